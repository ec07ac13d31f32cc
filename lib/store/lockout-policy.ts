/* Pure: the brute-force policy's arithmetic, without the SDK. */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The unit a client address is counted in (API.md "Brute force": client addresses are counted per IPv6 /64):
 * an IPv4 address as it is; an IPv6 address as its /64 prefix (`2001:db8:1:2::/64`), since one subscriber (and
 * on AWS one instance) is handed a whole /64 and could otherwise spread its guesses over 2^64 addresses. An
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) counts as its IPv4 address; a zone index is ignored. Anything
 * else (no address: a local call) is counted as it is.
 */
export function clientAddressKey(address: string): string {
  const plain = address.trim().toLowerCase().split('%')[0] ?? '';
  if (isIPv4(plain)) return plain;
  if (!isIPv6(plain)) return address;
  const groups = ipv6Groups(plain);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, an IPv4 tail turned into two groups). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/)?.[1];
  if (dotted) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
    text = `${text.slice(0, -dotted.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...Array.from({ length: 8 - front.length - back.length }, () => 0), ...back];
}
