// virsecret's public API. Import from "virsecret" only what is exported here.
export { openSecretDriver, SECRET_SPACE, SECRET_USAGE_SPACE } from "./secret/driver.js";
export type { SecretDriver, SecretDriverOptions } from "./secret/driver.js";
export { BINDING_SPACE } from "./secret/binding.js";
export type { KeyBinding, KeyBindingRequest, BindingContext, KeystoreResolver, KeystoreSource } from "./secret/binding.js";
export { WRAPPED_KEY_FILE, PENDING_WRAPPED_KEY_FILE } from "./store/envelope.js";
export type { MasterKeyEnvelope, RecordedContext } from "./store/envelope.js";
export type { MasterKeyWrapping } from "./secret/wrapped-root.js";
export * from "./secret/api.js";
export { SecretUsageType, USAGE_ID_ELEMENT } from "./secret/def.js";
export type { SecretDef, SecretUsageTypeName } from "./secret/def.js";
export { parseSecretURI, defaultSecretURI, embedURI } from "./secret/uri.js";
export type { SecretURI } from "./secret/uri.js";
export { decodeBase64Strict, encodeBase64 } from "./secret/base64.js";
export { importLibvirtDir, exportLibvirtDir, decryptAes256cbc } from "./secret/libvirt-dir.js";
export type { ImportEntry, ImportOptions, ImportStatus, ExportEntry } from "./secret/libvirt-dir.js";
export { defineFromDirectory } from "./secret/definitions-dir.js";
export type { DefinitionEntry, DefinitionResult } from "./secret/definitions-dir.js";
export { parseSecretXML, formatSecretXML } from "./xml/secret.js";
export { validateSecretXML } from "./xml/validate.js";
export { VirError, isVirError, ErrorCode, ErrorDomain } from "./errors.js";
export type { ErrorCodeName, ErrorCodeNumber, ErrorDomainName } from "./errors.js";
export { parseUUID, formatUUID, canonicalUUID, generateUUID } from "./uuid.js";

// Keystores: one KeyManager interface, local / KMIP / Barbican backends, XML configuration.
export { KeyManagerError, NotAuthorized, KeyNotFound, passphraseFromKey } from "./keystore/key-manager.js";
export type {
  KeyManager,
  Context,
  ManagedObject,
  ManagedObjectKind,
  NewManagedObject,
  CreateKeyOptions,
  ListKeysFilter,
  KeyManagerSupports,
  KeyManagerErrorCode,
} from "./keystore/key-manager.js";
export { openKeystore, loadKeystoreConfig } from "./keystore/open.js";
export type { OpenKeystoreOptions } from "./keystore/open.js";
export type { KeystoreConfig, LocalKeystoreConfig, KmipKeystoreConfig, BarbicanKeystoreConfig } from "./keystore/config.js";
export { parseKeystoreXML } from "./xml/keystore.js";
export { deleteKeyIdempotent } from "./keystore/util.js";
export { LocalKeyManager, openLocalKeystore } from "./keystore/local.js";
export { KmipKeyManager, openKmipKeystore } from "./keystore/kmip/backend.js";
export { startKmipServer } from "./keystore/kmip/server.js";
export type { KmipServer, KmipServerConfig } from "./keystore/kmip/server.js";
export { BarbicanKeyManager, openBarbicanKeystore } from "./keystore/barbican.js";

// Storage volume XML.
export { parseVolumeXML, formatVolumeXML } from "./xml/volume.js";
export type { VolumeDef } from "./storage/volume-def.js";
export { openVolumeDriver } from "./storage/volume-driver.js";
export type {
  OpenVolumeDriverOptions,
  CreateVolumeOptions,
  DeleteVolumeOptions,
  GenerateSecretMode,
  KeyCheckResult,
  VolumeDriver,
  VolumeInfo,
  VolumeRef,
} from "./storage/volume-driver.js";
export type { VolumeRecord } from "./storage/records.js";
