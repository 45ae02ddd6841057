/**
 * A plan: the steps a cloned child runs between clone(2) and execve(2), built
 * here as data and run by native/child.cc with raw system calls only. The
 * encoding is described in native/plan.h; PlanOp must match its enum (a unit
 * test compares them).
 */

export enum PlanOp {
  WaitParent = 1,
  NotifyParent = 2,
  Setsid = 3,
  ParentDeathSignal = 4,
  SetName = 5,
  Unshare = 6,
  Setns = 7,
  Mount = 8,
  Umount = 9,
  Mkdir = 10,
  Mknod = 11,
  Symlink = 12,
  Chdir = 13,
  PivotRoot = 14,
  Chroot = 15,
  Sethostname = 16,
  Setdomainname = 17,
  Setgroups = 18,
  Setresgid = 19,
  Setresuid = 20,
  CapBounding = 21,
  CapSet = 22,
  CapAmbient = 23,
  KeepCaps = 24,
  NoNewPrivs = 25,
  Seccomp = 26,
  Dup2 = 27,
  CloseFrom = 28,
  WriteFile = 29,
  Exec = 30,
  Umask = 31,
  Setrlimit = 32,
  SetCtty = 33,
  Exit = 34,
  OpenConsole = 35,
  LinkUp = 36,
  VerifyCwd = 37,
}

export const PlanFlag = {
  IgnoreExists: 1 << 0,
  CloexecOnly: 1 << 1,
  IgnoreErrors: 1 << 2,
} as const;

/** The system call each op makes, for errors (`EPERM: …, mount '/proc'`). */
const syscallOf: Record<PlanOp, string> = {
  [PlanOp.WaitParent]: 'recv',
  [PlanOp.NotifyParent]: 'send',
  [PlanOp.Setsid]: 'setsid',
  [PlanOp.ParentDeathSignal]: 'prctl',
  [PlanOp.SetName]: 'prctl',
  [PlanOp.Unshare]: 'unshare',
  [PlanOp.Setns]: 'setns',
  [PlanOp.Mount]: 'mount',
  [PlanOp.Umount]: 'umount2',
  [PlanOp.Mkdir]: 'mkdir',
  [PlanOp.Mknod]: 'mknod',
  [PlanOp.Symlink]: 'symlink',
  [PlanOp.Chdir]: 'chdir',
  [PlanOp.PivotRoot]: 'pivot_root',
  [PlanOp.Chroot]: 'chroot',
  [PlanOp.Sethostname]: 'sethostname',
  [PlanOp.Setdomainname]: 'setdomainname',
  [PlanOp.Setgroups]: 'setgroups',
  [PlanOp.Setresgid]: 'setresgid',
  [PlanOp.Setresuid]: 'setresuid',
  [PlanOp.CapBounding]: 'prctl',
  [PlanOp.CapSet]: 'capset',
  [PlanOp.CapAmbient]: 'prctl',
  [PlanOp.KeepCaps]: 'prctl',
  [PlanOp.NoNewPrivs]: 'prctl',
  [PlanOp.Seccomp]: 'seccomp',
  [PlanOp.Dup2]: 'dup2',
  [PlanOp.CloseFrom]: 'close_range',
  [PlanOp.WriteFile]: 'write',
  [PlanOp.Exec]: 'execve',
  [PlanOp.Umask]: 'umask',
  [PlanOp.Setrlimit]: 'setrlimit',
  [PlanOp.SetCtty]: 'ioctl',
  [PlanOp.Exit]: 'exit',
  [PlanOp.OpenConsole]: 'open',
  [PlanOp.LinkUp]: 'ioctl',
  [PlanOp.VerifyCwd]: 'getcwd',
};

export interface PlanStep {
  op: PlanOp;
  flags: number;
  num: [bigint, bigint, bigint];
  str: [string | null, string | null, string | null, string | null];
  lists: [string[] | null, string[] | null];
  blob: Buffer | null;
  /** The path an error should name, if any. */
  path: string | undefined;
}

// Linux constants the plans use (include/uapi/linux/sched.h, mount.h).
export const Clone = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const Mount = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  BIND: 0x1000,
  REC: 0x4000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  STRICTATIME: 0x1000000,
} as const;

export const MNT_DETACH = 2;

const HEADER_SIZE = 16;
const RECORD_SIZE = 64;
const MAGIC = 0x4e4c5048;
const VERSION = 1;
export const MAX_TARGET_FD = 100;

type Num = number | bigint;

/** Builds a plan step by step; each method names the system call it makes. */
export class Plan {
  readonly steps: PlanStep[] = [];

  private add(
    op: PlanOp,
    fields: {
      num?: Num[];
      str?: (string | null)[];
      lists?: (string[] | null)[];
      blob?: Buffer;
      flags?: number;
      path?: string;
    } = {},
  ): this {
    const num = fields.num ?? [];
    const str = fields.str ?? [];
    const lists = fields.lists ?? [];
    this.steps.push({
      op,
      flags: fields.flags ?? 0,
      num: [BigInt(num[0] ?? 0), BigInt(num[1] ?? 0), BigInt(num[2] ?? 0)],
      str: [str[0] ?? null, str[1] ?? null, str[2] ?? null, str[3] ?? null],
      lists: [lists[0] ?? null, lists[1] ?? null],
      blob: fields.blob ?? null,
      path: fields.path,
    });
    return this;
  }

  /** Blocks until the parent sends "go" (after it wrote the id maps, say). */
  waitParent(): this {
    return this.add(PlanOp.WaitParent);
  }
  notifyParent(tag: number): this {
    return this.add(PlanOp.NotifyParent, { num: [tag] });
  }
  setsid(): this {
    return this.add(PlanOp.Setsid);
  }
  parentDeathSignal(signal: number): this {
    return this.add(PlanOp.ParentDeathSignal, { num: [signal] });
  }
  setName(name: string): this {
    return this.add(PlanOp.SetName, { str: [name] });
  }
  unshare(flags: number): this {
    return this.add(PlanOp.Unshare, { num: [flags] });
  }
  setns(nsPath: string, nstype: number): this {
    return this.add(PlanOp.Setns, { str: [nsPath], num: [nstype], path: nsPath });
  }
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): this {
    return this.add(PlanOp.Mount, { str: [source, target, fstype, data], num: [flags], path: target });
  }
  umount(target: string, flags = 0): this {
    return this.add(PlanOp.Umount, { str: [target], num: [flags], path: target });
  }
  mkdir(path: string, mode: number, options: { ignoreExists?: boolean } = {}): this {
    return this.add(PlanOp.Mkdir, {
      str: [path],
      num: [mode],
      flags: options.ignoreExists ? PlanFlag.IgnoreExists : 0,
      path,
    });
  }
  mknod(path: string, mode: number, device: number, options: { ignoreExists?: boolean } = {}): this {
    return this.add(PlanOp.Mknod, {
      str: [path],
      num: [mode, device],
      flags: options.ignoreExists ? PlanFlag.IgnoreExists : 0,
      path,
    });
  }
  symlink(target: string, linkPath: string, options: { ignoreExists?: boolean } = {}): this {
    return this.add(PlanOp.Symlink, {
      str: [target, linkPath],
      flags: options.ignoreExists ? PlanFlag.IgnoreExists : 0,
      path: linkPath,
    });
  }
  chdir(path: string): this {
    return this.add(PlanOp.Chdir, { str: [path], path });
  }
  pivotRoot(newRoot: string, putOld: string): this {
    return this.add(PlanOp.PivotRoot, { str: [newRoot, putOld], path: newRoot });
  }
  chroot(path: string): this {
    return this.add(PlanOp.Chroot, { str: [path], path });
  }
  sethostname(name: string): this {
    return this.add(PlanOp.Sethostname, { str: [name] });
  }
  /** Sets IFF_UP on a network interface of the child's network namespace (`ip link set NAME up`). */
  linkUp(name: string): this {
    // IFNAMSIZ is 16 with its NUL (netdevice(7)).
    if (name === '' || Buffer.byteLength(name) > 15 || name.includes('/')) {
      throw new TypeError(`invalid network interface name ${JSON.stringify(name)}`);
    }
    return this.add(PlanOp.LinkUp, { str: [name], path: name });
  }
  setdomainname(name: string): this {
    return this.add(PlanOp.Setdomainname, { str: [name] });
  }
  setgroups(gids: number[]): this {
    const blob = Buffer.alloc(gids.length * 4);
    gids.forEach((gid, i) => blob.writeUInt32LE(gid, i * 4));
    return this.add(PlanOp.Setgroups, { blob });
  }
  setresgid(rgid: number, egid: number, sgid: number): this {
    return this.add(PlanOp.Setresgid, { num: [rgid, egid, sgid] });
  }
  setresuid(ruid: number, euid: number, suid: number): this {
    return this.add(PlanOp.Setresuid, { num: [ruid, euid, suid] });
  }
  /** Drops every capability not in keep from the bounding set. */
  capBounding(keep: bigint): this {
    return this.add(PlanOp.CapBounding, { num: [keep] });
  }
  capSet(effective: bigint, permitted: bigint, inheritable: bigint): this {
    return this.add(PlanOp.CapSet, { num: [effective, permitted, inheritable] });
  }
  capAmbient(raise: bigint): this {
    return this.add(PlanOp.CapAmbient, { num: [raise] });
  }
  keepCaps(keep: boolean): this {
    return this.add(PlanOp.KeepCaps, { num: [keep ? 1 : 0] });
  }
  noNewPrivs(): this {
    return this.add(PlanOp.NoNewPrivs);
  }
  /** program: struct sock_filter[] (8 bytes each); flags: SECCOMP_FILTER_FLAG_*. */
  seccomp(program: Buffer, flags = 0): this {
    return this.add(PlanOp.Seccomp, { blob: program, num: [flags] });
  }
  dup2(from: number, to: number): this {
    if (to >= MAX_TARGET_FD) throw new RangeError(`dup2 target fd ${to} must be below ${MAX_TARGET_FD}`);
    return this.add(PlanOp.Dup2, { num: [from, to] });
  }
  /** Closes fds >= first (the sync socket and keep excepted), or only marks them close-on-exec. */
  closeFrom(first: number, options: { cloexecOnly?: boolean; keep?: number | undefined } = {}): this {
    return this.add(PlanOp.CloseFrom, {
      num: [first, options.keep ?? -1],
      flags: options.cloexecOnly ? PlanFlag.CloexecOnly : 0,
    });
  }
  /**
   * Fails with EXDEV unless the working directory is reachable from the
   * current root (runc's check against CVE-2024-21626); path names it in errors.
   */
  verifyCwd(path: string): this {
    return this.add(PlanOp.VerifyCwd, { path });
  }
  writeFile(path: string, content: string | Buffer): this {
    return this.add(PlanOp.WriteFile, { str: [path], blob: Buffer.from(content), path });
  }
  /** execve(2); a file without '/' is searched in searchPath as execvp does. */
  exec(file: string, argv: string[], env: string[], searchPath: string | null = null): this {
    return this.add(PlanOp.Exec, {
      str: [file, file.includes('/') ? null : searchPath],
      lists: [argv, env],
      path: file,
    });
  }
  umask(mask: number): this {
    return this.add(PlanOp.Umask, { num: [mask] });
  }
  /** soft/hard: -1 for unlimited. */
  setrlimit(resource: number, soft: Num, hard: Num): this {
    return this.add(PlanOp.Setrlimit, { num: [resource, soft, hard] });
  }
  setControllingTerminal(fd: number): this {
    return this.add(PlanOp.SetCtty, { num: [fd] });
  }
  exit(status: number): this {
    return this.add(PlanOp.Exit, { num: [status] });
  }
  /** Opens a pty in the current /dev/pts, sends its master on socketFd, puts the slave on fds 3-5. */
  openConsole(socketFd: number): this {
    return this.add(PlanOp.OpenConsole, { num: [socketFd], path: '/dev/ptmx' });
  }

  /** The system call and path that step `index` makes, for error messages. */
  describe(index: number): { syscall: string; path: string | undefined } {
    const step = this.steps[index];
    if (step === undefined) return { syscall: 'plan', path: undefined };
    return { syscall: syscallOf[step.op], path: step.path };
  }

  /** The buffer native/plan.cc validates: header, 64-byte records, data. */
  encode(): Buffer {
    const data = new DataArea();
    const records = Buffer.alloc(this.steps.length * RECORD_SIZE);
    this.steps.forEach((step, i) => {
      const at = i * RECORD_SIZE;
      records.writeUInt32LE(step.op, at);
      records.writeUInt32LE(step.flags, at + 4);
      step.num.forEach((n, k) => records.writeBigInt64LE(BigInt.asIntN(64, n), at + 8 + 8 * k));
      step.str.forEach((s, k) => records.writeUInt32LE(s === null ? 0 : data.string(s), at + 32 + 4 * k));
      step.lists.forEach((l, k) => records.writeUInt32LE(l === null ? 0 : data.list(l), at + 48 + 4 * k));
      if (step.blob !== null) {
        records.writeUInt32LE(data.blob(step.blob), at + 56);
        records.writeUInt32LE(step.blob.length, at + 60);
      }
    });
    const body = data.toBuffer();
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt32LE(VERSION, 4);
    header.writeUInt32LE(this.steps.length, 8);
    header.writeUInt32LE(body.length, 12);
    return Buffer.concat([header, records, body]);
  }
}

/** The data area of an encoded plan; offsets are returned plus one (0 = absent). */
class DataArea {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  private append(chunk: Buffer, align = 1): number {
    const pad = (align - (this.size % align)) % align;
    if (pad > 0) this.push(Buffer.alloc(pad));
    const at = this.size;
    this.push(chunk);
    return at + 1;
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  string(value: string): number {
    if (value.includes('\0')) throw new TypeError(`plan string contains a NUL byte: ${JSON.stringify(value)}`);
    return this.append(Buffer.from(`${value}\0`, 'utf8'));
  }

  list(values: string[]): number {
    const offsets = values.map((v) => this.string(v));
    const table = Buffer.alloc(4 + 4 * offsets.length);
    table.writeUInt32LE(offsets.length, 0);
    offsets.forEach((o, i) => table.writeUInt32LE(o, 4 + 4 * i));
    return this.append(table, 4);
  }

  blob(value: Buffer): number {
    return this.append(value, 8);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}
