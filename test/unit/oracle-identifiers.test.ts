// Oracle identifier quoting and case folding (the one quoting function), connect strings for
// service name / SID / descriptor, and driver error classification. No database.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthenticationFailed, ConnectionFailed } from '../../activities/adapters/errors';
import { classifyOracleError, connectString, oracleEndpointFrom, type OracleEndpoint } from '../../activities/adapters/oracle/connection';
import { identifierLimitFor, InvalidOracleIdentifier, oracleNameFor, qualifyOracle, quoteOracleIdent, quoteOracleLiteral } from '../../activities/adapters/oracle/identifiers';

describe('quoteOracleIdent', () => {
  it('always quotes, carrying case, spaces and punctuation exactly', () => {
    expect(quoteOracleIdent('ORDERS')).toBe('"ORDERS"');
    expect(quoteOracleIdent('Order Lines; DROP')).toBe('"Order Lines; DROP"');
    expect(qualifyOracle('HR', 'emp')).toBe('"HR"."emp"');
  });

  it('any name without " or NUL within the byte limit round-trips; others are refused', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), fc.constantFrom<30 | 128>(30, 128), (name, limit) => {
        const bytes = Buffer.byteLength(name, 'utf8');
        if (name.includes('"') || name.includes('\u0000') || bytes > limit) {
          expect(() => quoteOracleIdent(name, limit)).toThrow(InvalidOracleIdentifier);
        } else {
          const q = quoteOracleIdent(name, limit);
          expect(q.slice(1, -1)).toBe(name);
          expect(q.startsWith('"') && q.endsWith('"')).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('limits: 30 bytes before 12.2, 128 from 12.2; counted in UTF-8 bytes', () => {
    expect(identifierLimitFor({ major: 11, minor: 2 })).toBe(30);
    expect(identifierLimitFor({ major: 12, minor: 1 })).toBe(30);
    expect(identifierLimitFor({ major: 12, minor: 2 })).toBe(128);
    expect(identifierLimitFor({ major: 19, minor: 0 })).toBe(128);
    expect(() => quoteOracleIdent('A'.repeat(31), 30)).toThrow(/31 bytes; the target allows 30 \(before 12\.2\)/);
    expect(() => quoteOracleIdent('é'.repeat(16), 30)).toThrow(/32 bytes/);
    expect(quoteOracleIdent('A'.repeat(128), 128)).toHaveLength(130);
  });

  it('refuses empty names and double quotes (Oracle has no escape for them)', () => {
    expect(() => quoteOracleIdent('')).toThrow(/empty/);
    expect(() => quoteOracleIdent('a"b')).toThrow(/double quote/);
  });
});

describe('oracleNameFor (case folding policy)', () => {
  it('plain lower-case PostgreSQL names become what the same unquoted text means in Oracle', () => {
    expect(oracleNameFor('order_lines')).toBe('ORDER_LINES');
    expect(oracleNameFor('OrderLines')).toBe('OrderLines');
    expect(oracleNameFor('order lines')).toBe('order lines');
    expect(oracleNameFor('1abc')).toBe('1abc');
  });
  it('is idempotent', () => {
    fc.assert(fc.property(fc.string({ maxLength: 20 }), (s) => {
      expect(oracleNameFor(oracleNameFor(s))).toBe(oracleNameFor(s));
    }), { numRuns: 200 });
  });
});

describe('quoteOracleLiteral', () => {
  it('doubles single quotes', () => {
    expect(quoteOracleLiteral("it's")).toBe("'it''s'");
    fc.assert(fc.property(fc.string({ maxLength: 30 }).filter((s) => !s.includes('\u0000')), (s) => {
      const q = quoteOracleLiteral(s);
      expect(q.slice(1, -1).replace(/''/g, "'")).toBe(s);
    }), { numRuns: 200 });
  });
});

const ep = (over: Partial<OracleEndpoint>): OracleEndpoint => ({ host: 'db.example.com', port: 1521, user: 'APP', protocol: 'tcp', ...over });

describe('connect strings (service name vs SID, as DTS distinguishes)', () => {
  it('service name: Easy Connect; tcps with TLS; IPv6 in brackets', () => {
    expect(connectString(ep({ serviceName: 'ORCLPDB1' }))).toBe('db.example.com:1521/ORCLPDB1');
    expect(connectString(ep({ serviceName: 'orcl.example.com', protocol: 'tcps', port: 2484 }))).toBe('tcps://db.example.com:2484/orcl.example.com');
    expect(connectString(ep({ host: 'fd00::1', serviceName: 'X' }))).toBe('[fd00::1]:1521/X');
  });
  it('SID: a TNS descriptor (Easy Connect cannot carry a SID)', () => {
    expect(connectString(ep({ sid: 'ORCL' }))).toBe('(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=db.example.com)(PORT=1521))(CONNECT_DATA=(SID=ORCL)))');
  });
  it('descriptor given: used as is when balanced', () => {
    const d = '(DESCRIPTION=(ADDRESS_LIST=(ADDRESS=(PROTOCOL=TCP)(HOST=scan)(PORT=1521)))(CONNECT_DATA=(SERVICE_NAME=rac)))';
    expect(connectString(ep({ descriptor: d }))).toBe(d);
    expect(() => connectString(ep({ descriptor: '(DESCRIPTION=(' }))).toThrow(/balanced/);
  });
  it('refuses ambiguous or injected settings', () => {
    expect(() => connectString(ep({}))).toThrow(/exactly one/);
    expect(() => connectString(ep({ serviceName: 'a', sid: 'b' }))).toThrow(/exactly one/);
    expect(() => connectString(ep({ sid: 'ORCL)(X=1' }))).toThrow(/SID/);
    expect(() => connectString(ep({ host: 'a)(b', serviceName: 'x' }))).toThrow(/host/);
  });
  it('from the generic endpoint: sid:NAME, a descriptor, or a service name; sslmode require -> tcps', () => {
    const base = { host: 'h', port: 1521, user: 'u', sslmode: 'prefer' as const };
    expect(oracleEndpointFrom({ ...base, database: 'sid:ORCL' })).toMatchObject({ sid: 'ORCL', protocol: 'tcp' });
    expect(oracleEndpointFrom({ ...base, database: 'ORCLPDB1', sslmode: 'require' })).toMatchObject({ serviceName: 'ORCLPDB1', protocol: 'tcps' });
    expect(oracleEndpointFrom({ ...base, database: '(DESCRIPTION=(x))' }).descriptor).toBe('(DESCRIPTION=(x))');
    expect(oracleEndpointFrom({ ...base, database: 'ignored', sid: 'S1' }).sid).toBe('S1');
  });
});

describe('classifyOracleError', () => {
  const e = ep({ serviceName: 'ORCLPDB1' });
  it('bad credentials -> AuthenticationFailed', () => {
    expect(classifyOracleError(new Error('ORA-01017: invalid username/password; logon denied'), e)).toBeInstanceOf(AuthenticationFailed);
  });
  it('unknown service/SID -> ConnectionFailed with the service-vs-SID hint', () => {
    const err = classifyOracleError(new Error('ORA-12514: listener does not currently know of service'), e) as Error;
    expect(err).toBeInstanceOf(ConnectionFailed);
    expect(err.message).toMatch(/sid:NAME/);
    expect((classifyOracleError(new Error('ORA-12505: SID not registered'), ep({ sid: 'X' })) as Error).message).toMatch(/service name instead/);
  });
  it('unreachable -> ConnectionFailed (retried within the window); others pass through', () => {
    expect(classifyOracleError(new Error('NJS-503: connection to host db port 1521 could not be established'), e)).toBeInstanceOf(ConnectionFailed);
    expect(classifyOracleError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }), e)).toBeInstanceOf(ConnectionFailed);
    const other = new Error('ORA-00942: table or view does not exist');
    expect(classifyOracleError(other, e)).toBe(other);
  });
});
