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
export type { ParseSecretXMLOptions } from "./xml/secret.js";
export { validateSecretXML } from "./xml/validate.js";
export type { ValidateSecretXMLOptions } from "./xml/validate.js";
// The driver's store, as a handle to pass on (drv.store → openKeystore / LocalKeyManager),
// and the records defineWithValue / undefine commit together with a secret.
export type { SecretStore, StoreOp, Space } from "./store/db.js";
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
export type {
  KeystoreConfig,
  LocalKeystoreConfig,
  KmipKeystoreConfig,
  KeystoreTLSConfig,
  BarbicanKeystoreConfig,
  BarbicanAuthConfig,
} from "./keystore/config.js";
export { parseKeystoreXML } from "./xml/keystore.js";
export type { ParseKeystoreXMLOptions } from "./xml/keystore.js";
export { deleteKeyIdempotent } from "./keystore/util.js";
export { LocalKeyManager, openLocalKeystore } from "./keystore/local.js";
export type { LocalKeyManagerOptions } from "./keystore/local.js";
// The KMIP backend's class is not exported: it is built on the internal client; use openKmipKeystore.
export { openKmipKeystore } from "./keystore/kmip/backend.js";
export { startKmipServer } from "./keystore/kmip/server.js";
export type { KmipServer, KmipServerConfig } from "./keystore/kmip/server.js";
export { parseKmipServerXML } from "./xml/kmip-server.js";
export type { ParseKmipServerXMLOptions, ResolvedKmipServerConfig } from "./xml/kmip-server.js";
export { BarbicanKeyManager, openBarbicanKeystore } from "./keystore/barbican.js";
export type { BarbicanKeystoreOptions, BarbicanCreateVia } from "./keystore/barbican.js";

// Storage volume XML.
export { parseVolumeXML, formatVolumeXML } from "./xml/volume.js";
export type { ParseVolumeXMLOptions } from "./xml/volume.js";
export { VOLUME_TYPES, VOLUME_FORMATS, ENCRYPTION_FORMATS, ENCRYPTION_ENGINES } from "./storage/volume-def.js";
export type {
  VolumeDef,
  VolumeType,
  VolumeFormat,
  VolumeTarget,
  VolumePermissions,
  VolumeFeatures,
  VolumeBackingStore,
  VolumeEncryption,
  EncryptionFormat,
  EncryptionEngine,
  EncryptionCipher,
  EncryptionIvgen,
  SecretLookup,
} from "./storage/volume-def.js";
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
  VolumeBackend,
} from "./storage/volume-driver.js";
export type { VolumeRecord } from "./storage/records.js";
// The native reader/writer of raw-LUKS and qcow2(-LUKS) guest data, where QEMU is absent.
export { openNativeVolume } from "./storage/luks/native-backend.js";
export type { NativeVolume, OpenNativeOptions } from "./storage/luks/native-backend.js";
