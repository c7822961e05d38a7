// KMIP enumeration values (KMIP 1.0–1.4, plus the 2.0 values a key store meets).

export const Operation = {
  Create: 0x01,
  CreateKeyPair: 0x02,
  Register: 0x03,
  ReKey: 0x04,
  DeriveKey: 0x05,
  Certify: 0x06,
  ReCertify: 0x07,
  Locate: 0x08,
  Check: 0x09,
  Get: 0x0a,
  GetAttributes: 0x0b,
  GetAttributeList: 0x0c,
  AddAttribute: 0x0d,
  ModifyAttribute: 0x0e,
  DeleteAttribute: 0x0f,
  ObtainLease: 0x10,
  GetUsageAllocation: 0x11,
  Activate: 0x12,
  Revoke: 0x13,
  Destroy: 0x14,
  Archive: 0x15,
  Recover: 0x16,
  Validate: 0x17,
  Query: 0x18,
  Cancel: 0x19,
  Poll: 0x1a,
  Notify: 0x1b,
  Put: 0x1c,
  ReKeyKeyPair: 0x1d,
  DiscoverVersions: 0x1e,
} as const;
export type OperationName = keyof typeof Operation;

const OP_NAME = new Map<number, string>(Object.entries(Operation).map(([n, v]) => [v, n]));
export function operationName(op: number): string {
  return OP_NAME.get(op) ?? `Operation(0x${op.toString(16)})`;
}

export const ObjectType = {
  Certificate: 1,
  SymmetricKey: 2,
  PublicKey: 3,
  PrivateKey: 4,
  SplitKey: 5,
  Template: 6,
  SecretData: 7,
  OpaqueObject: 8,
  PgpKey: 9,
} as const;

export const CryptographicAlgorithm = {
  DES: 1,
  TripleDES: 2,
  AES: 3,
  RSA: 4,
  DSA: 5,
  ECDSA: 6,
  HMAC_SHA1: 7,
  HMAC_SHA256: 9,
  Blowfish: 0x10,
  Camellia: 0x11,
  Twofish: 0x19,
  ChaCha20: 0x1c,
} as const;

const ALG_NAME = new Map<number, string>(
  Object.entries(CryptographicAlgorithm).map(([n, v]) => [v, n === "TripleDES" ? "3DES" : n.replace("_", "-")]),
);
/** 'AES' etc. for the key-manager interface; unknown values come back as their number. */
export function algorithmName(alg: number): string {
  return ALG_NAME.get(alg) ?? String(alg);
}
export function algorithmByName(name: string): number | undefined {
  const want = name.toUpperCase();
  for (const [v, n] of ALG_NAME) if (n.toUpperCase() === want) return v;
  return undefined;
}

export const KeyFormatType = {
  Raw: 1,
  Opaque: 2,
  PKCS1: 3,
  PKCS8: 4,
  X509: 5,
  ECPrivateKey: 6,
  TransparentSymmetricKey: 7,
} as const;

export const SecretDataType = { Password: 1, Seed: 2 } as const;

/** PyKMIP's opaque data type: the first value of the extension range. */
export const OPAQUE_DATA_TYPE_EXTENSION = 0x80000000;

export const ResultStatus = {
  Success: 0,
  OperationFailed: 1,
  OperationPending: 2,
  OperationUndone: 3,
} as const;

export const ResultReason = {
  ItemNotFound: 0x01,
  ResponseTooLarge: 0x02,
  AuthenticationNotSuccessful: 0x03,
  InvalidMessage: 0x04,
  OperationNotSupported: 0x05,
  MissingData: 0x06,
  InvalidField: 0x07,
  FeatureNotSupported: 0x08,
  OperationCanceledByRequester: 0x09,
  CryptographicFailure: 0x0a,
  IllegalOperation: 0x0b,
  PermissionDenied: 0x0c,
  ObjectArchived: 0x0d,
  IndexOutOfBounds: 0x0e,
  ApplicationNamespaceNotSupported: 0x0f,
  KeyFormatTypeNotSupported: 0x10,
  KeyCompressionTypeNotSupported: 0x11,
  EncodingOptionError: 0x12,
  KeyValueNotPresent: 0x13,
  AttestationRequired: 0x14,
  AttestationFailed: 0x15,
  Sensitive: 0x16,
  NotExtractable: 0x17,
  ObjectAlreadyExists: 0x18,
  ObjectNotFound: 0x37,
  NotAuthorised: 0x39,
  UnsupportedProtocolVersion: 0x3f,
  WrongKeyLifecycleState: 0x43,
  GeneralFailure: 0x100,
} as const;

const REASON_NAME = new Map<number, string>(
  Object.entries(ResultReason).map(([n, v]) => [v, n.replace(/([a-z])([A-Z])/g, "$1 $2")]),
);
export function resultReasonName(r: number): string {
  return REASON_NAME.get(r) ?? `Result Reason 0x${r.toString(16)}`;
}

export const State = {
  PreActive: 1,
  Active: 2,
  Deactivated: 3,
  Compromised: 4,
  Destroyed: 5,
  DestroyedCompromised: 6,
} as const;

export const RevocationReasonCode = {
  Unspecified: 1,
  KeyCompromise: 2,
  CACompromise: 3,
  AffiliationChanged: 4,
  Superseded: 5,
  CessationOfOperation: 6,
  PrivilegeWithdrawn: 7,
} as const;

export const QueryFunction = {
  QueryOperations: 1,
  QueryObjects: 2,
  QueryServerInformation: 3,
} as const;

export const CredentialType = { UsernameAndPassword: 1 } as const;
export const NameType = { UninterpretedTextString: 1, URI: 2 } as const;
export const BatchErrorContinuationOption = { Continue: 1, Stop: 2, Undo: 3 } as const;

export const CryptographicUsageMask = {
  Sign: 0x1,
  Verify: 0x2,
  Encrypt: 0x4,
  Decrypt: 0x8,
  WrapKey: 0x10,
  UnwrapKey: 0x20,
  Export: 0x40,
} as const;
