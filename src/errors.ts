// libvirt-style errors: a numeric code from virErrorNumber, a domain from
// virErrorDomain, and a message rendered with the code's prefix exactly as
// libvirt prints it ("XML error: …", "Secret not found: …").

/** virErrorNumber values used by virsecret (numbers as in libvirt). */
export const ErrorCode = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  XML_ERROR: 27,
  OPERATION_DENIED: 29,
  OPEN_FAILED: 30,
  READ_FAILED: 31,
  WRITE_FAILED: 34,
  XML_DETAIL: 35,
  SYSTEM_ERROR: 38,
  RPC: 39,
  NO_STORAGE_VOL: 50,
  OPERATION_INVALID: 55,
  INVALID_SECRET: 65,
  NO_SECRET: 66,
  CONFIG_UNSUPPORTED: 67,
  OPERATION_TIMEOUT: 68,
  ARGUMENT_UNSUPPORTED: 74,
  OPERATION_ABORTED: 78,
  OVERFLOW: 82,
  RESOURCE_BUSY: 87,
  ACCESS_DENIED: 88,
  STORAGE_VOL_EXIST: 90,
  XML_INVALID_SCHEMA: 92,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeNumber = (typeof ErrorCode)[ErrorCodeName];

/** virErrorDomain values used by virsecret. */
export const ErrorDomain = {
  NONE: 0,
  XML: 5,
  STORAGE: 18,
  SECRET: 30,
  KEYSTORE: 1000, // not a libvirt domain: key-manager backends
} as const;
export type ErrorDomainName = keyof typeof ErrorDomain;

// The prefixes libvirt's virErrorMsg() puts before the detail text.
const PREFIX: Record<ErrorCodeName, string> = {
  INTERNAL_ERROR: "internal error: ",
  NO_SUPPORT: "this function is not supported by the connection driver: ",
  INVALID_ARG: "invalid argument: ",
  OPERATION_FAILED: "operation failed: ",
  XML_ERROR: "XML error: ",
  OPERATION_DENIED: "operation forbidden: ",
  OPEN_FAILED: "",
  READ_FAILED: "",
  WRITE_FAILED: "",
  XML_DETAIL: "",
  SYSTEM_ERROR: "",
  RPC: "",
  NO_STORAGE_VOL: "Storage volume not found: ",
  OPERATION_INVALID: "Requested operation is not valid: ",
  INVALID_SECRET: "Invalid secret: ",
  NO_SECRET: "Secret not found: ",
  CONFIG_UNSUPPORTED: "unsupported configuration: ",
  OPERATION_TIMEOUT: "Timed out during operation: ",
  ARGUMENT_UNSUPPORTED: "argument unsupported: ",
  OPERATION_ABORTED: "operation aborted: ",
  OVERFLOW: "numerical overflow: ",
  RESOURCE_BUSY: "resource busy: ",
  ACCESS_DENIED: "access denied: ",
  STORAGE_VOL_EXIST: "storage volume already exists: ",
  XML_INVALID_SCHEMA: "XML document failed to validate against schema: ",
};

/**
 * The one error type of the secret and storage drivers. `message` is the
 * full text libvirt would print after `error: `; `detail` is the text
 * without the code's prefix. Never put a secret value in either.
 */
export class VirError extends Error {
  readonly code: ErrorCodeNumber;
  readonly codeName: ErrorCodeName;
  readonly domain: number;
  readonly detail: string;

  constructor(
    codeName: ErrorCodeName,
    detail: string,
    domain: ErrorDomainName = "SECRET",
    options?: { cause?: unknown; bare?: boolean },
  ) {
    // `bare`: libvirt's virReportInvalidArg/virCheckFlags raise the code without
    // its prefix text, so their messages read "uuidstr in … must be …" alone.
    super(options?.bare ? detail : PREFIX[codeName] + detail, options);
    this.name = "VirError";
    this.codeName = codeName;
    this.code = ErrorCode[codeName];
    this.domain = ErrorDomain[domain];
    this.detail = detail;
  }
}

export function isVirError(e: unknown, codeName?: ErrorCodeName): e is VirError {
  return e instanceof VirError && (codeName === undefined || e.codeName === codeName);
}

/** An argument check as libvirt's virReportInvalidArg: INVALID_ARG, no prefix. */
export function invalidArg(detail: string, domain: ErrorDomainName = "SECRET"): VirError {
  return new VirError("INVALID_ARG", detail, domain, { bare: true });
}

/** libvirt's "unsupported flags (0x%x) in function %s" check (virCheckFlags: no prefix). */
export function checkFlags(flags: number, allowed: number, fn: string): void {
  if ((flags & ~allowed) !== 0) {
    throw invalidArg(`unsupported flags (0x${(flags & ~allowed).toString(16)}) in function ${fn}`);
  }
}
