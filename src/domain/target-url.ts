/**
 * Validation of tenant-supplied listener URLs (`notify_url`, `liveness_url`)
 * that the server will later call. The goal is to refuse SSRF targets: URLs
 * that would make the server talk to itself, to the private network it runs
 * in, or to a cloud metadata service.
 *
 * Two layers:
 *  - `parseTargetUrl`: syntax rules only (no network access).
 *  - `checkTargetUrl`: syntax rules plus, unless `allowPrivate`, a check that
 *    the host is (or resolves to) public unicast addresses only.
 *
 * This is a registration-time check. DNS answers can change between
 * registration and delivery (DNS rebinding), so the delivery worker must check
 * the address it actually connects to again; `isPublicAddress` is exported for
 * that purpose.
 */
import { promises as dnsPromises } from "node:dns";
import ipaddr from "ipaddr.js";

/** Resolves a host name to its addresses (textual IPv4/IPv6). */
export type HostResolver = (hostname: string) => Promise<string[]>;

export type TargetUrlResult = { ok: true; url: URL } | { ok: false; reason: string };

export const MAX_TARGET_URL_LENGTH = 2048;
export const SYSTEM_RESOLVER_TIMEOUT_MS = 2000;

/**
 * Host names refused outright (after lower-casing, which URL already does, and
 * removing a trailing dot). These are names that point at the machine itself
 * or at a cloud instance-metadata service; some environments answer them from
 * a local stub or hosts file, so we do not rely on DNS alone for them.
 *
 * Decision on `.internal`: we do NOT refuse the whole `.internal` TLD. Only the
 * well-known metadata names below are listed. Any other `.internal` name that
 * resolves to a private address is refused by the address check anyway, and
 * one that cannot be resolved cannot be reached by the delivery worker either
 * (which re-checks the address at connect time).
 */
const BLOCKED_HOST_NAMES: ReadonlySet<string> = new Set([
  "localhost",
  // Google Cloud metadata server (169.254.169.254); the short name works via
  // the instance's DNS search path.
  "metadata.google.internal",
  "metadata.goog",
  "metadata",
  // AWS EC2 metadata names (169.254.169.254).
  "instance-data",
  "instance-data.ec2.internal",
]);

/** RFC 6761: every name under `.localhost` is loopback. */
const BLOCKED_HOST_SUFFIXES: readonly string[] = [".localhost"];

/**
 * Deprecated IPv4-compatible IPv6 addresses (RFC 4291 §2.5.5.1). ipaddr.js
 * classifies e.g. `::7f00:1` (= ::127.0.0.1) as "unicast", but some stacks
 * route these to the embedded IPv4 address, and nothing public lives there.
 */
const IPV4_COMPATIBLE_V6 = ipaddr.IPv6.parseCIDR("::/96");

/** ASCII control characters, space and DEL. */
const WHITESPACE_OR_CONTROL = /[\u0000-\u0020\u007f]/;

/**
 * The raw authority section of an input (the part between the scheme's
 * slashes and the path/query/fragment). For http(s) the WHATWG parser treats
 * `\` like `/`, and accepts any number of slashes (including none).
 */
const RAW_AUTHORITY = /^[^:]*:[/\\]*([^/\\?#]*)/;

/**
 * Default resolver: the operating system's resolver (`getaddrinfo`, which also
 * consults /etc/hosts), bounded by a 2 s timeout. Rejects on failure or
 * timeout. The underlying lookup cannot be cancelled; on timeout it is simply
 * abandoned.
 */
export const systemResolver: HostResolver = (hostname) =>
  new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`DNS lookup for ${hostname} timed out after ${SYSTEM_RESOLVER_TIMEOUT_MS} ms`));
    }, SYSTEM_RESOLVER_TIMEOUT_MS);
    timer.unref();
    dnsPromises.lookup(hostname, { all: true, verbatim: true }).then(
      (entries) => {
        clearTimeout(timer);
        resolve(entries.map((entry) => entry.address));
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });

/**
 * Classifies a textual address with ipaddr.js. IPv4-mapped IPv6 addresses
 * (`::ffff:a.b.c.d`) are unwrapped to IPv4 by `ipaddr.process` first.
 * Returns undefined if the text is not an IP address.
 */
function addressRange(ip: string): string | undefined {
  if (!ipaddr.isValid(ip)) return undefined;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    return undefined;
  }
  const range = addr.range();
  if (range === "unicast" && addr.kind() === "ipv6" && addr.match(IPV4_COMPATIBLE_V6)) {
    return "ipv4Compatible";
  }
  return range;
}

/**
 * True only for public unicast addresses. Loopback, private, link-local
 * (including 169.254.169.254), unique-local, unspecified, carrier-grade NAT,
 * multicast, broadcast, reserved/documentation ranges, the various IPv6
 * transition ranges (6to4, Teredo, NAT64), IPv4-mapped forms of any of those,
 * and anything that is not a valid IP address are all reported as non-public.
 */
export function isPublicAddress(ip: string): boolean {
  return addressRange(ip) === "unicast";
}

/**
 * Syntax rules only; no DNS. `field` names the value in error reasons
 * (e.g. "notify_url"); defaults to "url".
 */
export function parseTargetUrl(raw: string, field = "url"): TargetUrlResult {
  if (typeof raw !== "string" || raw.length === 0) {
    return { ok: false, reason: `${field} must be a non-empty string` };
  }
  if (raw.length > MAX_TARGET_URL_LENGTH) {
    return { ok: false, reason: `${field} must be at most ${MAX_TARGET_URL_LENGTH} characters` };
  }
  // The WHATWG parser silently drops leading/trailing spaces and controls
  // and tabs/newlines anywhere; refuse rather than register something other
  // than what the tenant typed.
  if (WHITESPACE_OR_CONTROL.test(raw)) {
    return { ok: false, reason: `${field} must not contain whitespace or control characters` };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: `${field} must be a valid absolute URL` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, reason: `${field} must use http or https` };
  }
  // `url.username`/`url.password` catch real credentials; the raw check also
  // catches an empty user-info (`http://@host/`), which the parser would
  // otherwise drop silently.
  const authority = RAW_AUTHORITY.exec(raw)?.[1] ?? "";
  if (url.username !== "" || url.password !== "" || authority.includes("@")) {
    return { ok: false, reason: `${field} must not contain user credentials` };
  }
  if (url.hostname === "") {
    return { ok: false, reason: `${field} must have a host` };
  }
  // Fragments are allowed and kept as-is (they are never sent on the wire).
  return { ok: true, url };
}

/** Host without IPv6 brackets; WHATWG has already normalised IPv4 forms. */
function literalAddress(hostname: string): string | undefined {
  if (hostname.startsWith("[") && hostname.endsWith("]")) return hostname.slice(1, -1);
  // URL normalises decimal/octal/hex/short IPv4 forms (2130706433, 0x7f.1,
  // 127.1) to dotted-quad, and rejects domain names ending in a number, so a
  // strict four-part decimal test is sufficient here.
  if (ipaddr.IPv4.isValidFourPartDecimal(hostname)) return hostname;
  return undefined;
}

function isBlockedName(hostname: string): boolean {
  const name = hostname.replace(/\.+$/, "");
  if (BLOCKED_HOST_NAMES.has(name)) return true;
  return BLOCKED_HOST_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

/**
 * Syntax rules, then (unless `allowPrivate`) the host rules:
 *  - literal IP hosts must be public unicast;
 *  - names must not be a blocked loopback/metadata name, and every address
 *    they resolve to must be public unicast.
 */
export async function checkTargetUrl(
  raw: string,
  opts: { allowPrivate: boolean; resolve?: HostResolver; field?: string },
): Promise<TargetUrlResult> {
  const field = opts.field ?? "url";
  const parsed = parseTargetUrl(raw, field);
  if (!parsed.ok || opts.allowPrivate) return parsed;

  const { url } = parsed;
  const hostname = url.hostname;

  const literal = literalAddress(hostname);
  if (literal !== undefined) {
    const range = addressRange(literal);
    if (range === "unicast") return parsed;
    return {
      ok: false,
      reason: `${field} host ${hostname} is not a public address (${range ?? "invalid"})`,
    };
  }

  if (isBlockedName(hostname)) {
    return { ok: false, reason: `${field} host ${hostname} is a local or metadata host name` };
  }

  const resolve = opts.resolve ?? systemResolver;
  let addresses: string[];
  try {
    addresses = await resolve(hostname);
  } catch {
    // Decision: a host we cannot resolve right now (no DNS here, NXDOMAIN,
    // timeout) is accepted. It cannot be reached while unresolvable, and the
    // delivery worker checks the address it actually connects to, so
    // refusing here would only block legitimate registrations made before
    // their DNS record exists or while DNS is flaky.
    return parsed;
  }
  // The resolved addresses are deliberately not echoed back: that would let
  // tenants use the API as an oracle for the server's internal DNS.
  if (addresses.some((address) => !isPublicAddress(address))) {
    return { ok: false, reason: `${field} host ${hostname} resolves to a non-public address` };
  }
  return parsed;
}
