import { describe, expect, it } from 'vitest';
import { blockedAddressReason, validateWebhookUrl } from '../../src/webhooks/url-guard.js';

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
