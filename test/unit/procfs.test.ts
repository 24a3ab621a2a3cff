import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cgroup2Mount, ownCgroupPath } from '../../src/isolation/cgroup.ts';
import { parsePs } from '../../src/isolation/process-tree.ts';
import { childrenByParent, descendantsOf, type ProcEntry, parseStat } from '../../src/isolation/procfs.ts';

describe('parseStat', () => {
  it('reads the fields after a comm holding spaces and parentheses', () => {
    const stat =
      '4242 (we (ird) name) S 17 4242 4240 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 987654 1000000 300 ' +
      '18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    const parsed = parseStat(stat);
    assert.equal(parsed.state, 'S');
    assert.equal(parsed.ppid, 17);
    assert.equal(parsed.pgid, 4242);
    assert.equal(parsed.sid, 4240);
    assert.equal(parsed.cpuTicks, 300);
    assert.equal(parsed.startTicks, 987654);
    assert.ok(parsed.rssBytes >= 300 * 4096, `rss ${parsed.rssBytes}`);
  });
});

describe('process tables', () => {
  const entry = (pid: number, ppid: number): ProcEntry => ({
    pid,
    ppid,
    pgid: pid,
    sid: pid,
    state: 'S',
    cpuTicks: 0,
    rssBytes: 0,
    startTicks: 0,
  });

  it('descendantsOf walks every level once, roots left out', () => {
    const table = [entry(2, 1), entry(3, 2), entry(4, 3), entry(5, 2), entry(6, 1)];
    const found = descendantsOf([2, 3], childrenByParent(table)).map((e) => e.pid);
    assert.deepEqual(found.sort(), [4, 5]);
  });

  it('parsePs reads `ps -A -o pid=,ppid=,pgid=`', () => {
    const table = parsePs('    1     0     1\n  812     1   812\n 9001   812   812\n\n');
    assert.deepEqual(
      table.map((e) => [e.pid, e.ppid, e.pgid]),
      [
        [1, 0, 1],
        [812, 1, 812],
        [9001, 812, 812],
      ],
    );
  });
});

describe('cgroup discovery', () => {
  it('finds the cgroup2 mount of a hybrid host and of a pure v2 host', () => {
    const hybrid = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    assert.equal(cgroup2Mount(hybrid), '/sys/fs/cgroup/unified');
    const pure = '30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate';
    assert.equal(cgroup2Mount(pure), '/sys/fs/cgroup');
    assert.equal(cgroup2Mount('31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw'), undefined);
  });

  it('unescapes a mount point with a space', () => {
    assert.equal(cgroup2Mount('41 31 0:38 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw'), '/mnt/my cgroup');
  });

  it("reads the process's own v2 cgroup", () => {
    assert.equal(ownCgroupPath('4:memory:/x\n0::/user.slice/app.scope\n'), '/user.slice/app.scope');
    assert.equal(ownCgroupPath('0::/\n'), '/');
    assert.equal(ownCgroupPath('4:memory:/x\n'), undefined);
  });
});
