/** CDK context parsing (infra/context.ts): defaults, coercion of `-c` strings, and errors naming the key. */
import { describe, expect, it } from 'vitest';
import { contextFrom, ContextError, readMailContext } from '#infra/context.ts';

const base = { 'mail:domains': 'Example.com, example.org.', 'mail:hostname': 'mail.example.com' };
const read = (extra: Record<string, unknown> = {}) => readMailContext(contextFrom({ ...base, ...extra }));

describe('readMailContext', () => {
  it('applies the documented defaults', () => {
    expect(read()).toEqual({
      domains: ['example.com', 'example.org'],
      hostname: 'mail.example.com',
      stackName: 'Cloudmail',
      tlsSecretArn: null,
      dkimSecretArn: null,
      smartHost: null,
      smartHostSecretArn: null,
      vpcId: null,
      natGateways: 0,
      taskSubnets: 'public',
      outboundInVpc: false,
      minTasks: 1,
      maxTasks: 4,
      taskCpu: 256,
      taskMemoryMiB: 512,
      connectionsPerTask: 2000,
      containerInsights: true,
      deletionProtection: true,
      logRetentionDays: 30,
      alarmEmail: null,
      containerImage: null,
    });
  });

  it('accepts strings from -c as well as JSON values from cdk.json', () => {
    const fromCli = read({ 'mail:minTasks': '2', 'mail:maxTasks': '3', 'mail:deletionProtection': 'false', 'mail:natGateways': '1' });
    const fromJson = read({
      'mail:minTasks': 2,
      'mail:maxTasks': 3,
      'mail:deletionProtection': false,
      'mail:natGateways': 1,
      'mail:domains': ['example.com', 'example.org'],
    });
    expect(fromCli).toEqual(fromJson);
    expect(fromCli).toMatchObject({ minTasks: 2, maxTasks: 3, deletionProtection: false, natGateways: 1, taskSubnets: 'private', outboundInVpc: true });
  });

  it('parses the smart host as host:port', () => {
    expect(read({ 'mail:smartHost': 'Email-SMTP.eu-west-1.amazonaws.com:587' }).smartHost).toEqual({ host: 'email-smtp.eu-west-1.amazonaws.com', port: 587 });
  });

  it('derives the memory from the CPU when not given, and checks Fargate sizes', () => {
    expect(read({ 'mail:taskCpu': 1024 }).taskMemoryMiB).toBe(2048);
    expect(() => read({ 'mail:taskCpu': 1024, 'mail:taskMemoryMiB': 512 })).toThrow(/mail:taskMemoryMiB/);
    expect(() => read({ 'mail:taskCpu': 300 })).toThrow(/mail:taskCpu/);
  });

  it.each([
    [{ 'mail:domains': '' }, 'mail:domains'],
    [{ 'mail:domains': 'not a domain' }, 'mail:domains'],
    [{ 'mail:hostname': undefined }, 'mail:hostname'],
    [{ 'mail:hostname': 'mail' }, 'mail:hostname'],
    [{ 'mail:smartHost': 'smtp.example.com' }, 'mail:smartHost'],
    [{ 'mail:smartHost': 'smtp.example.com:99999' }, 'mail:smartHost'],
    [{ 'mail:smartHostSecretArn': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf' }, 'mail:smartHostSecretArn'],
    [{ 'mail:tlsSecretArn': 'arn:aws:s3:::bucket' }, 'mail:tlsSecretArn'],
    [{ 'mail:vpcId': 'my-vpc' }, 'mail:vpcId'],
    [{ 'mail:vpcId': 'vpc-0123456789abcdef0', 'mail:natGateways': 1 }, 'mail:natGateways'],
    [{ 'mail:taskSubnets': 'private' }, 'mail:taskSubnets'],
    [{ 'mail:taskSubnets': 'dmz' }, 'mail:taskSubnets'],
    [{ 'mail:outboundInVpc': true }, 'mail:outboundInVpc'],
    [{ 'mail:minTasks': 0 }, 'mail:minTasks'],
    [{ 'mail:minTasks': 3, 'mail:maxTasks': 2 }, 'mail:maxTasks'],
    [{ 'mail:minTasks': 'two' }, 'mail:minTasks'],
    [{ 'mail:deletionProtection': 'maybe' }, 'mail:deletionProtection'],
    [{ 'mail:logRetentionDays': 31 }, 'mail:logRetentionDays'],
    [{ 'mail:alarmEmail': 'ops' }, 'mail:alarmEmail'],
    [{ 'mail:stackName': '9lives' }, 'mail:stackName'],
    [{ 'mail:stackName': { name: 'x' } }, 'mail:stackName'],
  ])('rejects %j naming %s', (extra, key) => {
    let error: unknown;
    try {
      read(extra);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ContextError);
    expect((error as Error).message).toContain(`context ${key}:`);
  });

  it('with an existing VPC, defaults to private task subnets and the outbound function outside the VPC', () => {
    expect(read({ 'mail:vpcId': 'vpc-0123456789abcdef0' })).toMatchObject({ vpcId: 'vpc-0123456789abcdef0', taskSubnets: 'private', outboundInVpc: false });
    expect(read({ 'mail:vpcId': 'vpc-0123456789abcdef0', 'mail:outboundInVpc': 'true', 'mail:taskSubnets': 'public' })).toMatchObject({
      taskSubnets: 'public',
      outboundInVpc: true,
    });
  });
});
