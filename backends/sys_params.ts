/**
 * Param blocks the host-facing backends share (net, proc, user, firewall):
 * host names, ports, protocols, addresses and account names. Each one
 * refuses a leading "-" by construction, so no value can be read as an
 * option by the program it is handed to, and refuses whitespace and
 * control characters, so it stays one argv element meaning one thing.
 */
import { described, intText } from "./params.ts";

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
/** RFC 1123 host names, at most 253 characters, an optional final dot. */
export const HOSTNAME_RE = `(?=[^\\s]{1,254}$)${LABEL}(?:\\.${LABEL})*\\.?`;

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
export const IPV4_RE = `${OCTET}(?:\\.${OCTET}){3}`;
/**
 * IPv6 in any of its spellings (with an embedded IPv4 tail too): only the
 * characters are checked here, the program parsing it refuses the rest.
 */
export const IPV6_RE = "(?=[0-9A-Fa-f:.]*:)[0-9A-Fa-f:.]{2,45}";

/** A host to reach: a DNS name, an IPv4 or an IPv6 address. */
export function host() {
  return described<string>({
    kind: "text",
    checks: [{
      pattern:
        `^(?:${HOSTNAME_RE}|${IPV6_RE}(?:%[A-Za-z0-9_.-]{1,15})?|${IPV4_RE})$`,
      message:
        "%s is not a host name or IP address (letters, digits, - and . in a name; no spaces)",
    }],
  });
}

/** A TCP or UDP port. */
export function port() {
  return intText(1, 65535);
}

/** "tcp" or "udp". */
export function protocol() {
  return described<"tcp" | "udp">({
    kind: "enum",
    values: ["tcp", "udp"],
    message: '%s is not a protocol this backend handles ("tcp" or "udp")',
  });
}

/** An IPv4 or IPv6 address, or a network in CIDR notation. */
export function addressOrCidr() {
  return described<string>({
    kind: "text",
    checks: [{
      pattern: `^(?:${IPV4_RE}(?:/(?:3[0-2]|[12]?\\d))?|${IPV6_RE}` +
        "(?:/(?:12[0-8]|1[01]\\d|[1-9]?\\d))?)$",
      message:
        '%s is not an IP address or CIDR network (e.g. "10.0.0.0/8" or "2001:db8::/32")',
    }],
  });
}

/**
 * Account names as shadow's useradd takes them by default, plus upper
 * case as the reference allowed: Debian's own accounts start with "_"
 * (`_apt`), none with "-".
 */
export const ACCOUNT_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,31}$/;

/** A user or group name. */
export function accountName() {
  return described<string>({
    kind: "text",
    checks: [{
      pattern: ACCOUNT_RE.source,
      message:
        "%s is not a valid user or group name (a letter or _ first, then letters, digits, _ and -; at most 32)",
    }],
  });
}
