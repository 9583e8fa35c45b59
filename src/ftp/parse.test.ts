import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEpsv, formatPasv, formatTimeVal, parseCommand, parseEprt, parseHostPort, parseRestOffset, parseTimeVal, redactCommand, stripTelnet } from './parse.js';

test('parseCommand: verb upper-cased, argument kept verbatim (spaces included)', () => {
  assert.deepEqual(parseCommand('retr my file.txt'), { verb: 'RETR', arg: 'my file.txt' });
  assert.deepEqual(parseCommand('PWD'), { verb: 'PWD', arg: '' });
  assert.deepEqual(parseCommand('STOR  lead'), { verb: 'STOR', arg: ' lead' });
  assert.deepEqual(parseCommand(Buffer.from('MKD caf\u00e9', 'utf8')), { verb: 'MKD', arg: 'caf\u00e9' });
});

test('parseCommand: garbage is verb ""', () => {
  for (const g of ['', '   ', '12345', 'A', 'TOOLONGVERB x', '\u0000\u0001', 'RE TR', 'ST0R x']) {
    assert.equal(parseCommand(g).verb, '', JSON.stringify(g));
  }
});

test('parseCommand: CR NUL in a path is CR (RFC 959 §3.2)', () => {
  assert.equal(parseCommand('DELE a\r\0b').arg, 'a\rb');
});

test('Telnet IP/Synch before ABOR is stripped (RFC 959 §4.1.3)', () => {
  const raw = Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR')]);
  assert.deepEqual(parseCommand(raw), { verb: 'ABOR', arg: '' });
  assert.deepEqual(stripTelnet(Buffer.from([0x41, 0xff, 0xff, 0x42])), Buffer.from([0x41, 0xff, 0x42]));
  // urgent IAC eaten by the kernel: a stray DM (0xf2) is left in front
  assert.deepEqual(parseCommand(Buffer.concat([Buffer.from([0xf2]), Buffer.from('ABOR')])).verb, 'ABOR');
});

test('redactCommand hides passwords only', () => {
  assert.equal(redactCommand('PASS secret'), 'PASS ****');
  assert.equal(redactCommand('pass secret'), 'PASS ****');
  assert.equal(redactCommand('USER bob'), 'USER bob');
});

test('PORT host-port (RFC 959 §4.1.2)', () => {
  assert.deepEqual(parseHostPort('127,0,0,1,4,1'), { host: '127.0.0.1', port: 1025 });
  for (const bad of ['127,0,0,1,4', '256,0,0,1,4,1', '1,2,3,4,5,x', '', '1,2,3,4,0,0', '1,2,3,4,5,6,7']) assert.equal(parseHostPort(bad), null, bad);
});

test('PASV/EPSV reply texts', () => {
  assert.equal(formatPasv('127.0.0.1', 50001), 'Entering Passive Mode (127,0,0,1,195,81).');
  assert.equal(formatEpsv(50001), 'Entering Extended Passive Mode (|||50001|)');
});

test('EPRT (RFC 2428 §2), IPv4 and IPv6', () => {
  assert.deepEqual(parseEprt('|1|132.235.1.2|6275|'), { family: 1, host: '132.235.1.2', port: 6275 });
  assert.deepEqual(parseEprt('|2|1080::8:800:200C:417A|5282|'), { family: 2, host: '1080::8:800:200c:417a', port: 5282 });
  assert.deepEqual(parseEprt('!1!10.0.0.1!21!'), { family: 1, host: '10.0.0.1', port: 21 });
  assert.deepEqual(parseEprt('|3|1.2.3.4|5|'), { error: 'family' });
  for (const bad of ['|1|1.2.3.4|0|', '|1|::1|5|', '|2|1.2.3.4|5|', '1.2.3.4', '|1|1.2.3.4|70000|', '|1|1.2.3.4|5']) {
    assert.ok('error' in parseEprt(bad), bad);
  }
});

test('time-val (RFC 3659 §2.3)', () => {
  const d = new Date(Date.UTC(2026, 10, 23, 10, 59, 47, 123));
  assert.equal(formatTimeVal(d), '20261123105947');
  assert.equal(parseTimeVal('20261123105947')?.getTime(), Date.UTC(2026, 10, 23, 10, 59, 47));
  assert.equal(parseTimeVal('20261123105947.5')?.getTime(), Date.UTC(2026, 10, 23, 10, 59, 47, 500));
  assert.equal(parseTimeVal('20261323105947'), null);
  assert.equal(parseTimeVal('2026'), null);
});

test('REST offsets', () => {
  assert.equal(parseRestOffset('100'), 100);
  assert.equal(parseRestOffset('-1'), null);
  assert.equal(parseRestOffset('1e3'), null);
});
