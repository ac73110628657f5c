import { describe, it } from "node:test";
import assert from "node:assert/strict";

import {
  checkTargetUrl,
  isPublicAddress,
  parseTargetUrl,
  type HostResolver,
} from "../../src/domain/target-url.js";

// No test performs a real DNS lookup: every check that reaches name
// resolution gets an injected resolver.
const publicResolver: HostResolver = async () => ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"];
const privateResolver: HostResolver = async () => ["10.0.0.1"];
const failingResolver: HostResolver = async (host) => {
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
};
// Resolver errors are swallowed by checkTargetUrl (unresolvable => accepted),
// so a throwing sentinel would go unnoticed; record calls instead and answer
// with a loopback address so an unexpected call also changes the outcome.
const unexpectedCalls: string[] = [];
const mustNotResolve: HostResolver = async (host) => {
  unexpectedCalls.push(host);
  return ["127.0.0.1"];
};

async function check(raw: string, resolve: HostResolver = mustNotResolve, allowPrivate = false) {
  unexpectedCalls.length = 0;
  const result = await checkTargetUrl(raw, { allowPrivate, resolve });
  assert.deepEqual(unexpectedCalls, [], `resolver unexpectedly called for ${raw}`);
  return result;
}

function assertRefused(
  result: { ok: true; url: URL } | { ok: false; reason: string },
  pattern: RegExp,
): void {
  assert.equal(result.ok, false, `expected refusal, got ${JSON.stringify(result)}`);
  if (!result.ok) assert.match(result.reason, pattern);
}

describe("isPublicAddress", () => {
  it("accepts public unicast IPv4 and IPv6", () => {
    assert.equal(isPublicAddress("93.184.216.34"), true);
    assert.equal(isPublicAddress("8.8.8.8"), true);
    assert.equal(isPublicAddress("2606:4700::1"), true);
    assert.equal(isPublicAddress("::ffff:93.184.216.34"), true);
  });

  it("refuses non-public and invalid input", () => {
    for (const ip of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "100.100.100.200",
      "0.0.0.0",
      "255.255.255.255",
      "224.0.0.1",
      "240.0.0.1",
      "192.0.2.1",
      "::",
      "::1",
      "fe80::1",
      "fe80::1%eth0",
      "fc00::1",
      "fd00:ec2::254",
      "ff02::1",
      "2001:db8::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      "::ffff:169.254.169.254",
      "::127.0.0.1",
      "64:ff9b::a00:1",
      "not an ip",
      "",
      "[::1]",
    ]) {
      assert.equal(isPublicAddress(ip), false, ip);
    }
  });
});

describe("parseTargetUrl", () => {
  it("accepts http and https URLs and keeps them intact", () => {
    const result = parseTargetUrl("https://example.com:8443/hook?a=1#frag");
    assert.equal(result.ok, true);
    if (result.ok) assert.equal(result.url.href, "https://example.com:8443/hook?a=1#frag");
  });

  it("does not resolve or reject private hosts (syntax only)", () => {
    assert.equal(parseTargetUrl("http://127.0.0.1/").ok, true);
  });

  it("refuses other schemes", () => {
    assertRefused(parseTargetUrl("ftp://example.com/file"), /must use http or https/);
    assertRefused(parseTargetUrl("file:///etc/passwd"), /must use http or https/);
    assertRefused(parseTargetUrl("javascript:alert(1)"), /must use http or https/);
  });

  it("refuses user-info, including an empty one", () => {
    assertRefused(parseTargetUrl("http://user:pass@example.com/"), /credentials/);
    assertRefused(parseTargetUrl("http://user@example.com/"), /credentials/);
    assertRefused(parseTargetUrl("http://@example.com/"), /credentials/);
    assertRefused(parseTargetUrl("http://:@example.com/"), /credentials/);
  });

  it("accepts an @ outside the authority", () => {
    assert.equal(parseTargetUrl("https://example.com/users/@me?x=a@b").ok, true);
  });

  it("enforces the 2048-character limit", () => {
    const prefix = "https://example.com/";
    const exact = prefix + "a".repeat(2048 - prefix.length);
    assert.equal(exact.length, 2048);
    assert.equal(parseTargetUrl(exact).ok, true);
    assertRefused(parseTargetUrl(exact + "a"), /at most 2048 characters/);
  });

  it("refuses garbage", () => {
    assertRefused(parseTargetUrl("not a url"), /whitespace/);
    assertRefused(parseTargetUrl("notaurl"), /valid absolute URL/);
    assertRefused(parseTargetUrl("/relative/path"), /valid absolute URL/);
    assertRefused(parseTargetUrl("http://"), /valid absolute URL/);
    assertRefused(parseTargetUrl("http://exa mple.com/"), /whitespace/);
    assertRefused(parseTargetUrl(""), /non-empty/);
  });

  it("refuses input the URL parser would silently alter", () => {
    assertRefused(parseTargetUrl(" https://example.com/"), /whitespace/);
    assertRefused(parseTargetUrl("https://example.com/\n"), /whitespace/);
    assertRefused(parseTargetUrl("https://exam\tple.com/"), /whitespace/);
  });

  it("names the field in reasons", () => {
    assert.deepEqual(parseTargetUrl("ftp://example.com/", "notify_url"), {
      ok: false,
      reason: "notify_url must use http or https",
    });
  });
});

describe("checkTargetUrl", () => {
  it("accepts public literal IPs without resolving", async () => {
    for (const raw of ["http://93.184.216.34/hook", "https://[2606:4700::1]/", "https://[::ffff:93.184.216.34]/x"]) {
      const result = await check(raw);
      assert.equal(result.ok, true, raw);
      if (result.ok) assert.equal(result.url.href, new URL(raw).href);
    }
  });

  it("accepts names that resolve only to public addresses", async () => {
    const seen: string[] = [];
    const resolve: HostResolver = async (host) => {
      seen.push(host);
      return publicResolver(host);
    };
    const result = await checkTargetUrl("https://hooks.example.com/in", { allowPrivate: false, resolve });
    assert.equal(result.ok, true);
    assert.deepEqual(seen, ["hooks.example.com"]);
  });

  it("refuses names that resolve to a private address", async () => {
    const result = await checkTargetUrl("https://evil.example.com/", {
      allowPrivate: false,
      resolve: privateResolver,
      field: "notify_url",
    });
    assert.deepEqual(result, {
      ok: false,
      reason: "notify_url host evil.example.com resolves to a non-public address",
    });
  });

  it("refuses if any one of the resolved addresses is not public", async () => {
    const mixed: HostResolver = async () => ["93.184.216.34", "127.0.0.1"];
    assertRefused(await check("https://mixed.example.com/", mixed), /resolves to a non-public address/);
    const mixedV6: HostResolver = async () => ["93.184.216.34", "::ffff:169.254.169.254"];
    assertRefused(await check("https://mixed.example.com/", mixedV6), /non-public/);
  });

  it("refuses resolver answers that are not IP addresses", async () => {
    const junk: HostResolver = async () => ["not-an-ip"];
    assertRefused(await check("https://junk.example.com/", junk), /non-public/);
  });

  it("accepts a host whose resolution fails", async () => {
    const result = await check("https://not-yet-registered.example/", failingResolver);
    assert.equal(result.ok, true);
  });

  it("refuses each non-public class given as a literal IP", async () => {
    const cases: Array<[string, RegExp]> = [
      ["http://127.0.0.1/", /127\.0\.0\.1 is not a public address \(loopback\)/],
      ["http://127.0.0.2:8080/", /loopback/],
      ["http://10.0.0.1/", /private/],
      ["http://10.255.255.255/", /private/],
      ["http://172.16.0.1/", /private/],
      ["http://172.31.0.1/", /private/],
      ["http://192.168.0.1/", /private/],
      ["http://169.254.169.254/latest/meta-data/", /linkLocal/],
      ["http://100.64.0.1/", /carrierGradeNat/],
      ["http://0.0.0.0/", /unspecified/],
      ["http://0/", /unspecified/],
      ["http://255.255.255.255/", /broadcast/],
      ["http://224.0.0.1/", /multicast/],
      ["http://240.0.0.1/", /reserved/],
      ["http://[::1]/", /\[::1\] is not a public address \(loopback\)/],
      ["http://[::]/", /unspecified/],
      ["http://[fe80::1]/", /linkLocal/],
      ["http://[fc00::1]/", /uniqueLocal/],
      ["http://[fd00:ec2::254]/", /uniqueLocal/],
      ["http://[ff02::1]/", /multicast/],
      ["http://[::ffff:127.0.0.1]/", /loopback/],
      ["http://[::ffff:10.0.0.1]/", /private/],
      ["http://[::ffff:169.254.169.254]/", /linkLocal/],
      ["http://[::127.0.0.1]/", /not a public address/],
    ];
    for (const [raw, pattern] of cases) {
      assertRefused(await check(raw), pattern);
    }
  });

  it("refuses alternative IPv4 notations (normalised by WHATWG URL)", async () => {
    // Decimal, hex/short, octal and trailing-dot forms of 127.0.0.1.
    for (const raw of [
      "http://2130706433/",
      "http://0x7f.1/",
      "http://0x7f000001/",
      "http://0177.0.0.1/",
      "http://127.1/",
      "http://127.0.0.1./",
    ]) {
      assert.equal(new URL(raw).hostname, "127.0.0.1", raw);
      assertRefused(await check(raw), /127\.0\.0\.1 is not a public address \(loopback\)/);
    }
  });

  it("refuses loopback and metadata host names without resolving", async () => {
    for (const raw of [
      "http://localhost/",
      "http://LOCALHOST:3000/",
      "http://localhost./",
      "http://api.localhost/",
      "http://ｌｏｃａｌｈｏｓｔ/",
      "http://metadata.google.internal/computeMetadata/v1/",
      "http://metadata.google.internal./",
      "http://metadata/",
      "http://instance-data/latest/meta-data/",
    ]) {
      assertRefused(await check(raw), /is a local or metadata host name/);
    }
  });

  it("does not blanket-refuse .internal names that resolve publicly", async () => {
    assert.equal((await check("https://hooks.corp.internal/", publicResolver)).ok, true);
    assertRefused(await check("https://hooks.corp.internal/", privateResolver), /non-public/);
  });

  it("applies the syntax rules before the host rules", async () => {
    assertRefused(await check("ftp://93.184.216.34/"), /must use http or https/);
    assertRefused(await check("http://user:pass@93.184.216.34/"), /credentials/);
    assertRefused(await check("https://example.com/" + "a".repeat(2048)), /at most 2048/);
    assertRefused(await check("garbage"), /valid absolute URL/);
    assertRefused(await check("ftp://x/", mustNotResolve, true), /must use http or https/);
  });

  it("allowPrivate skips host checks but not syntax checks", async () => {
    const result = await check("http://127.0.0.1:8080/x", mustNotResolve, true);
    assert.equal(result.ok, true);
    if (result.ok) assert.equal(result.url.href, "http://127.0.0.1:8080/x");
    assert.equal((await check("http://localhost:8080/x", mustNotResolve, true)).ok, true);
    assert.equal((await check("http://internal.example/", mustNotResolve, true)).ok, true);
  });
});
