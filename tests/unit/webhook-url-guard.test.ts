import { describe, expect, it } from 'vitest';
import type { LookupAddress } from 'node:dns';
import { blockedAddressReason, checkConnectAddress, guardedLookup, validateWebhookUrl } from '../../src/webhooks/url-guard.js';

const strict = { allowHttp: false, allowPrivate: false };

describe('blockedAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'cloud-metadata'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fc00::1', 'private'],
    ['fdab:1234::1', 'private'],
    ['fd00:ec2::254', 'cloud-metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'cloud-metadata'],
    ['0:0:0:0:0:ffff:c0a8:0101', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:7f00:0001::1', 'loopback'],
  ])('%s is refused (%s)', (ip, reason) => {
    expect(blockedAddressReason(ip)).toBe(reason);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8'])(
    '%s is public',
    (ip) => {
      expect(blockedAddressReason(ip)).toBeNull();
    },
  );
});

describe('validateWebhookUrl', () => {
  const resolveTo = (addrs: string[]) => async () => addrs;

  it('accepts a public https URL', async () => {
    await expect(validateWebhookUrl('https://hooks.example.com/x', { ...strict, resolve: resolveTo(['93.184.216.34']) })).resolves.toBe(
      'https://hooks.example.com/x',
    );
  });

  it('requires https unless http is allowed', async () => {
    await expect(validateWebhookUrl('http://hooks.example.com/x', { ...strict, resolve: resolveTo(['93.184.216.34']) })).rejects.toMatchObject({
      code: 'PARLEY_ERR_UNSAFE_URL',
    });
    await expect(validateWebhookUrl('http://hooks.example.com/x', { allowHttp: true, allowPrivate: false, resolve: resolveTo(['93.184.216.34']) })).resolves.toBeTruthy();
    await expect(validateWebhookUrl('ftp://hooks.example.com/x', { allowHttp: true, allowPrivate: false })).rejects.toMatchObject({ code: 'PARLEY_ERR_UNSAFE_URL' });
  });

  it('says which server setting takes a local receiver, except for cloud metadata', async () => {
    await expect(validateWebhookUrl('http://hooks.example.com/x', { ...strict, resolve: resolveTo(['93.184.216.34']) })).rejects.toThrow(
      'Webhook URL must use https (a server started with WEBHOOK_ALLOW_HTTP=true also takes http, for local work)',
    );
    for (const url of ['https://127.0.0.1:3942/hook', 'https://localhost/']) {
      await expect(validateWebhookUrl(url, strict), url).rejects.toThrow(/ \(webhooks go to public addresses; a server started with WEBHOOK_ALLOW_PRIVATE=true also takes this one, for local work\)$/);
    }
    await expect(validateWebhookUrl('https://metadata.google.internal/x', strict)).rejects.toThrow(/^Webhook host is not allowed \(cloud-metadata\)$/);
  });

  it('refuses a host that resolves to any private address', async () => {
    await expect(validateWebhookUrl('https://rebind.example.com/', { ...strict, resolve: resolveTo(['93.184.216.34', '10.0.0.5']) })).rejects.toThrow(/private/);
    await expect(validateWebhookUrl('https://v6.example.com/', { ...strict, resolve: resolveTo(['::ffff:127.0.0.1']) })).rejects.toThrow(/loopback/);
  });

  it('refuses IP literals, localhost, metadata hosts and credentials', async () => {
    for (const url of ['https://127.0.0.1/', 'https://[::1]:8443/', 'https://[::ffff:a9fe:a9fe]/', 'https://localhost/', 'https://api.localhost/', 'https://metadata.google.internal/computeMetadata/v1/', 'https://user:pw@hooks.example.com/']) {
      await expect(validateWebhookUrl(url, { ...strict, resolve: resolveTo(['93.184.216.34']) }), url).rejects.toMatchObject({ code: 'PARLEY_ERR_UNSAFE_URL' });
    }
  });

  it('allowPrivate admits loopback but never cloud metadata', async () => {
    const open = { allowHttp: true, allowPrivate: true };
    await expect(validateWebhookUrl('http://127.0.0.1:9000/h', open)).resolves.toBe('http://127.0.0.1:9000/h');
    await expect(validateWebhookUrl('http://169.254.169.254/latest/meta-data', open)).rejects.toThrow(/cloud-metadata/);
    await expect(validateWebhookUrl('http://metadata.google.internal/', open)).rejects.toThrow(/cloud-metadata/);
  });

  it('refuses a host that does not resolve', async () => {
    const fail = async (): Promise<string[]> => {
      throw new Error('ENOTFOUND');
    };
    await expect(validateWebhookUrl('https://nope.invalid/', { ...strict, resolve: fail })).rejects.toThrow(/does not resolve/);
  });
});

/**
 * Every IPv6 form that embeds an IPv4 address is judged by that address, and cloud metadata is refused through
 * all of them even with allowPrivate; so are the numeric IPv4 host spellings (decimal, hex, octal, short forms).
 */
const METADATA_FORMS: Array<[string, string]> = [
  ['169.254.169.254', 'plain'],
  ['::ffff:169.254.169.254', 'IPv4-mapped, dotted'],
  ['::ffff:a9fe:a9fe', 'IPv4-mapped, hex'],
  ['0:0:0:0:0:ffff:a9fe:a9fe', 'IPv4-mapped, uncompressed'],
  ['::169.254.169.254', 'IPv4-compatible'],
  ['::a9fe:a9fe', 'IPv4-compatible, hex'],
  ['::ffff:0:169.254.169.254', 'SIIT'],
  ['::ffff:0:a9fe:a9fe', 'SIIT, hex'],
  ['64:ff9b::169.254.169.254', 'NAT64 well-known prefix'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 well-known prefix, hex'],
  ['64:ff9b:1::a9fe:a9fe', 'NAT64 local-use prefix, /96 position'],
  ['64:ff9b:1:a9fe:a9:fe00::', 'NAT64 local-use prefix, /48 position'],
  ['64:ff9b:1:a9:fe:a9fe::', 'NAT64 local-use prefix, /56 position'],
  ['64:ff9b:1:0:a9:fea9:fe00:0', 'NAT64 local-use prefix, /64 position'],
  ['2002:a9fe:a9fe::', '6to4'],
  ['2002:a9fe:a9fe:1::1', '6to4 with subnet and host'],
  ['2001:0:4136:e378:8000:63bf:5601:5601', 'Teredo (client address XOR 0xff)'],
  ['2001:0:a9fe:a9fe::1', 'Teredo server address'],
  ['fe80::5efe:169.254.169.254', 'ISATAP'],
  ['2a00:1450::200:5efe:a9fe:a9fe', 'ISATAP, universal bit'],
  ['fd00:ec2::254', 'AWS IMDS IPv6'],
  ['fd20:ce::254', 'GCP metadata IPv6'],
  ['100.100.100.200', 'Alibaba Cloud'],
  ['169.254.170.2', 'ECS task credentials'],
  ['::ffff:100.100.100.200', 'Alibaba Cloud, IPv4-mapped'],
];

const PRIVATE_FORMS: Array<[string, string]> = [
  ['::ffff:0:127.0.0.1', 'loopback'],
  ['::ffff:0:10.0.0.1', 'private'],
  ['::ffff:0:c0a8:101', 'private'],
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::c0a8:101', 'private'],
  ['2002:c0a8:101::', 'private'],
  ['2002:0a00:0001::1', 'private'],
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'], // Teredo client 127.0.0.1
  ['fe80::5efe:10.1.2.3', 'private'],
  ['::10.0.0.1', 'private'],
];

describe('IPv6 forms that embed an IPv4 address', () => {
  it.each(METADATA_FORMS)('%s (%s) is cloud metadata', (ip) => {
    expect(blockedAddressReason(ip)).toBe('cloud-metadata');
  });

  it.each(PRIVATE_FORMS)('%s is refused as %s', (ip, reason) => {
    expect(blockedAddressReason(ip)).toBe(reason);
  });

  it.each(['::ffff:0:8.8.8.8', '64:ff9b::8.8.8.8', '2002:808:808::1', '::ffff:808:808'])('%s embeds a public address and is public', (ip) => {
    expect(blockedAddressReason(ip)).toBeNull();
  });

  it('refuses the NAT64 local-use prefix and Teredo as a whole unless private addresses are allowed', () => {
    expect(blockedAddressReason('64:ff9b:1::808:808')).toBe('private');
    expect(blockedAddressReason('2001:0:808:808::f7f7:f7f7')).toBe('tunnel');
  });
});

describe('validateWebhookUrl: every embedded and numeric form, at save time', () => {
  const resolveTo = (addrs: string[]) => async () => addrs;
  const open = { allowHttp: true, allowPrivate: true };

  it.each(METADATA_FORMS)('refuses https://[%s] (%s) even with allowPrivate', async (ip) => {
    const host = ip.includes(':') ? `[${ip}]` : ip;
    await expect(validateWebhookUrl(`https://${host}/latest/meta-data`, strict)).rejects.toMatchObject({ code: 'PARLEY_ERR_UNSAFE_URL' });
    await expect(validateWebhookUrl(`http://${host}/latest/meta-data`, open)).rejects.toThrow(/cloud-metadata/);
  });

  it.each(PRIVATE_FORMS)('refuses https://[%s] unless private addresses are allowed', async (ip, reason) => {
    await expect(validateWebhookUrl(`https://[${ip}]/`, strict)).rejects.toThrow(new RegExp(reason));
    await expect(validateWebhookUrl(`http://[${ip}]/`, open)).resolves.toBeTruthy();
  });

  it.each(['2852039166', '0xA9FEA9FE', '0xa9.0xfe.0xa9.0xfe', '0251.0376.0251.0376', '169.254.43518', '169.16689662', '0251.0xfe.43518'])(
    'refuses the numeric host %s (169.254.169.254) even with allowPrivate',
    async (host) => {
      await expect(validateWebhookUrl(`http://${host}/`, open)).rejects.toThrow(/cloud-metadata/);
      await expect(validateWebhookUrl(`https://${host}/`, strict)).rejects.toThrow(/cloud-metadata/);
    },
  );

  it.each(['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '0x7f.1'])('refuses the numeric loopback host %s', async (host) => {
    await expect(validateWebhookUrl(`https://${host}/`, strict)).rejects.toThrow(/loopback/);
  });

  it.each(METADATA_FORMS.filter(([ip]) => ip.includes(':')))('refuses a name that resolves to %s (%s)', async (ip) => {
    await expect(validateWebhookUrl('https://hooks.example.com/', { ...open, resolve: resolveTo(['93.184.216.34', ip]) })).rejects.toThrow(/cloud-metadata/);
  });

  it('refuses metadata host names, whatever the case or a trailing dot', async () => {
    for (const host of ['metadata.google.internal', 'METADATA.GOOGLE.INTERNAL.', 'instance-data.ec2.internal']) {
      await expect(validateWebhookUrl(`http://${host}/`, { ...open, resolve: resolveTo(['93.184.216.34']) }), host).rejects.toThrow(/cloud-metadata/);
    }
  });
});

describe('delivery: the addresses DNS returns at connect time', () => {
  /** A dns.lookup stand-in answering with fixed addresses. */
  const fakeLookup = (addresses: string[]) =>
    ((_host: string, _opts: unknown, cb: (err: Error | null, addrs: LookupAddress[]) => void) =>
      cb(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })))) as never;
  const lookupWith = (addresses: string[], allowPrivate: boolean) =>
    new Promise<{ err: (Error & { code?: string }) | null; address: unknown }>((resolve) =>
      guardedLookup(allowPrivate, fakeLookup(addresses))('hooks.example.com', { all: true }, (err, address) => resolve({ err, address })));

  it.each(METADATA_FORMS)('refuses a connection to %s (%s) even with allowPrivate', async (ip) => {
    for (const allowPrivate of [false, true]) {
      const { err } = await lookupWith(['93.184.216.34', ip], allowPrivate);
      expect(err?.code).toBe('EUNSAFEADDRESS');
      expect(err?.message).toMatch(/cloud-metadata/);
    }
    expect(() => checkConnectAddress('hooks.example.com', ip, true)).toThrow(/cloud-metadata/);
  });

  it.each(PRIVATE_FORMS)('refuses a connection to %s unless private addresses are allowed', async (ip) => {
    expect((await lookupWith([ip], false)).err?.message).toMatch(/refused to connect/);
    expect((await lookupWith([ip], true)).err).toBeNull();
  });

  it('connects to public addresses', async () => {
    const { err, address } = await lookupWith(['93.184.216.34', '2606:4700:4700::1111'], false);
    expect(err).toBeNull();
    expect(address).toHaveLength(2);
  });
});
