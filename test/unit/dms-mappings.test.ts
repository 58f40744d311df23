import { describe, expect, it } from 'vitest';
import { globToDms, tableMappings } from '../../activities/adapters/dms/mappings';
import { endpointInput, taskSettings } from '../../activities/adapters/dms/settings';
import { dmsNames } from '../../activities/adapters/dms/names';
import { parseDmsSpec } from '../../workflows/dmsSpec';

const base = {
  name: 'orders',
  engine: 'aws-dms',
  source: { host: 's', database: 'shop', user: 'u' },
  target: { host: 't', database: 'shop2', user: 'u' },
  dms: {
    subnetIds: ['subnet-1'],
    secretsManagerAccessRoleArn: 'arn:aws:iam::123456789012:role/r',
    source: { secretId: 'prod/shop/source' },
    target: { engineName: 'aurora-postgresql', secretId: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:shop-target-AbCdEf' },
  },
};

describe('DMS table mappings from the spec', () => {
  it('turns Ferry globs into DMS wildcards and escapes DMS wildcard characters in names', () => {
    expect(globToDms('*')).toBe('%');
    expect(globToDms('order?')).toBe('order_');
    expect(globToDms('tmp_*')).toBe('tmp[_]%');
    expect(globToDms('100%')).toBe('100[%]');
  });

  it('selection rules from include/exclude, rename rules for schema, table and column', () => {
    const spec = parseDmsSpec({
      ...base,
      tables: { include: ['public.*', 'sales.orders'], exclude: ['public.audit_log'] },
      rename: { schemas: { sales: 'sales_v2' }, tables: { 'public.users': 'customers' }, columns: { 'public.users.e_mail': 'email' } },
    });
    const { rules } = tableMappings(spec);
    expect(rules.map((r) => r['rule-id'])).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(new Set(rules.map((r) => r['rule-name'])).size).toBe(rules.length);
    expect(rules[0]).toMatchObject({ 'rule-type': 'selection', 'rule-action': 'include', 'object-locator': { 'schema-name': 'public', 'table-name': '%' } });
    expect(rules[2]).toMatchObject({ 'rule-type': 'selection', 'rule-action': 'exclude', 'object-locator': { 'schema-name': 'public', 'table-name': 'audit[_]log' } });
    expect(rules[3]).toMatchObject({ 'rule-type': 'transformation', 'rule-target': 'schema', 'rule-action': 'rename', value: 'sales_v2', 'object-locator': { 'schema-name': 'sales' } });
    expect(rules[4]).toMatchObject({ 'rule-target': 'table', value: 'customers', 'object-locator': { 'schema-name': 'public', 'table-name': 'users' } });
    expect(rules[5]).toMatchObject({ 'rule-target': 'column', value: 'email', 'object-locator': { 'schema-name': 'public', 'table-name': 'users', 'column-name': 'e[_]mail' } });
  });

  it('endpoints carry Secrets Manager references only, in the engine\'s settings block', () => {
    const spec = parseDmsSpec(base);
    const src = endpointInput(spec, 'source', 'id-src', []);
    expect(src).toMatchObject({
      EndpointType: 'source',
      EngineName: 'postgres',
      PostgreSQLSettings: { SecretsManagerSecretId: 'prod/shop/source', SecretsManagerAccessRoleArn: base.dms.secretsManagerAccessRoleArn, DatabaseName: 'shop' },
    });
    const text = JSON.stringify([src, endpointInput(spec, 'target', 'id-tgt', [])]);
    expect(text).not.toMatch(/Password|Username|ServerName/);
    expect(endpointInput(spec, 'target', 'x', []).PostgreSQLSettings?.DatabaseName).toBe('shop2');
    const mysql = parseDmsSpec({ ...base, dms: { ...base.dms, source: { engineName: 'mysql', secretId: 's' } } });
    expect(endpointInput(mysql, 'source', 'x', [])).toMatchObject({ EngineName: 'mysql', MySQLSettings: { SecretsManagerSecretId: 's' } });
  });

  it('task settings: prep mode, validation by level, overrides merged deeply', () => {
    const spec = parseDmsSpec({ ...base, validation: { level: 'none' }, dms: { ...base.dms, targetTablePrepMode: 'DO_NOTHING', taskSettings: { FullLoadSettings: { MaxFullLoadSubTasks: 16 } } } });
    expect(JSON.parse(taskSettings(spec))).toEqual({
      FullLoadSettings: { TargetTablePrepMode: 'DO_NOTHING', MaxFullLoadSubTasks: 16 },
      ValidationSettings: { EnableValidation: false },
      Logging: { EnableLogging: true },
    });
  });

  it('identifiers are valid DMS identifiers, stable per migration and distinct between migrations', () => {
    const a = dmsNames('ferry-orders');
    expect(a).toEqual(dmsNames('ferry-orders'));
    expect(a.task).not.toBe(dmsNames('ferry-orders2').task);
    const long = dmsNames(`ferry-${'x'.repeat(80)}--Weird_Name`);
    const ids: string[] = [a, long].flatMap((n) => [n.subnetGroup, n.instance, n.sourceEndpoint, n.targetEndpoint, n.task]);
    for (const id of ids) {
      expect(id).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
      expect(id).not.toMatch(/--|-$/);
    }
  });
});

describe('aws-dms spec', () => {
  it('names bad fields', () => {
    expect(() => parseDmsSpec({ ...base, dms: { ...base.dms, subnetIds: [], secretsManagerAccessRoleArn: 'role' } })).toThrow(
      /dms\.subnetIds: give subnetIds[\s\S]*|dms\.secretsManagerAccessRoleArn/,
    );
    expect(() => parseDmsSpec({ ...base, dms: { ...base.dms, source: { secretId: 's', password: 'x' } } })).toThrow(/dms\.source\.password: is not a known field/);
  });

  it('defaults: online, DROP_AND_CREATE, cloudwatch lag', () => {
    const spec = parseDmsSpec(base);
    expect(spec.mode).toBe('online');
    expect(spec.dms).toMatchObject({ replicationInstanceClass: 'dms.t3.medium', targetTablePrepMode: 'DROP_AND_CREATE', lagSource: 'cloudwatch', multiAz: false });
  });
});
