/**
 * A seccomp filter compiled to classic BPF: the struct sock_filter array
 * (8 bytes each: u16 code, u8 jt, u8 jf, u32 k, in the machine's byte order,
 * little-endian on x86_64 and aarch64) that seccomp(SECCOMP_SET_MODE_FILTER)
 * takes. Pure: the input is resolved rules (syscall numbers, not names; see
 * profile.ts for the JSON profiles).
 *
 * Layout (seccomp(2), Documentation/userspace-api/seccomp_filter.rst):
 *
 *   ld  arch                          ; seccomp_data.arch
 *   jeq AUDIT_ARCH_<native>, 0, bad   ; a foreign ABI has other numbers
 *   ld  nr                            ; seccomp_data.nr
 *   <binary search over number ranges: jge, each leaf one outcome>
 *   bad: ret <bad-arch action>
 *
 * The number space 0..2^32-1 is cut into ranges of one outcome each: a
 * return (the runs of allowed calls merge into few ranges), or the argument
 * checks of one system call. On x86_64 the x32 ABI (bit 30 set in nr) gets
 * ENOSYS. Jumps of classic BPF reach at most 255 instructions ahead; a longer
 * one goes through an unconditional `ja` (32-bit offset) placed right after
 * it.
 */
import { HutchError } from '../../../errors.js';
import type { SeccompArch } from './syscalls.js';

export type SeccompAction =
  | { type: 'allow' }
  | { type: 'errno'; errno: number }
  | { type: 'kill-process' }
  | { type: 'kill-thread' }
  | { type: 'trap' }
  | { type: 'log' }
  | { type: 'trace'; data: number };

export type ArgOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'masked-eq';

/**
 * A test of one 64-bit argument, unsigned: `args[index] op value`; for
 * masked-eq, `(args[index] & value) == valueTwo`.
 */
export interface ArgCondition {
  index: number;
  op: ArgOp;
  value: bigint;
  valueTwo?: bigint;
}

/** When every condition holds (none: always), the call gets the action. */
export interface FilterRule {
  nr: number;
  action: SeccompAction;
  args: ArgCondition[];
}

export interface FilterSpec {
  arch: SeccompArch;
  defaultAction: SeccompAction;
  /**
   * For one system call, the rules with conditions are tried in order and
   * the first that holds decides; then the first rule without conditions;
   * then the default action.
   */
  rules: FilterRule[];
  /**
   * Calls numbered above this get ERRNO(ENOSYS): newer than anything the
   * profile names, so a C library treats them as missing and falls back
   * (runc's "ENOSYS stub").
   */
  unknownAbove?: number;
  /**
   * For calls of another architecture (i386 through int 0x80, arm32):
   * default: the default action when it refuses calls, KILL_PROCESS when it
   * lets them through (a deny-list's numbers mean other calls there).
   */
  badArchAction?: SeccompAction;
}

/** SECCOMP_RET_* (include/uapi/linux/seccomp.h). */
export const SeccompRet = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** AUDIT_ARCH_* (include/uapi/linux/audit.h). */
export const AuditArch: Record<SeccompArch, number> = {
  x86_64: 0xc000003e,
  aarch64: 0xc00000b7,
};

/** Offsets in struct seccomp_data; args[i] is a u64 at 16 + 8 i. */
export const SeccompData = { nr: 0, arch: 4, instructionPointer: 8, args: 16 } as const;

/** BPF_MAXINSNS: the kernel refuses longer filters. */
export const MAX_INSTRUCTIONS = 4096;

/** x32 system calls carry __X32_SYSCALL_BIT in their number. */
export const X32_SYSCALL_BIT = 0x40000000;

const ENOSYS = 38;
const MAX_ERRNO = 4095;

// Opcodes (include/uapi/linux/bpf_common.h).
const LD_W_ABS = 0x20;
const ALU_AND_K = 0x54;
const JA = 0x05;
const JEQ_K = 0x15;
const JGT_K = 0x25;
const JGE_K = 0x35;
const RET_K = 0x06;

export const Action = {
  allow: { type: 'allow' } as SeccompAction,
  killProcess: { type: 'kill-process' } as SeccompAction,
  killThread: { type: 'kill-thread' } as SeccompAction,
  trap: { type: 'trap' } as SeccompAction,
  log: { type: 'log' } as SeccompAction,
  errno: (errno: number): SeccompAction => ({ type: 'errno', errno }),
  trace: (data: number): SeccompAction => ({ type: 'trace', data }),
};

/** The 32-bit value a filter returns for an action. */
export function actionValue(action: SeccompAction): number {
  switch (action.type) {
    case 'allow':
      return SeccompRet.ALLOW;
    case 'kill-process':
      return SeccompRet.KILL_PROCESS;
    case 'kill-thread':
      return SeccompRet.KILL_THREAD;
    case 'trap':
      return SeccompRet.TRAP;
    case 'log':
      return SeccompRet.LOG;
    case 'errno':
      if (!Number.isInteger(action.errno) || action.errno < 0 || action.errno > MAX_ERRNO) {
        throw new RangeError(`seccomp errno ${action.errno} is outside 0..${MAX_ERRNO}`);
      }
      return (SeccompRet.ERRNO | action.errno) >>> 0;
    case 'trace':
      if (!Number.isInteger(action.data) || action.data < 0 || action.data > 0xffff) {
        throw new RangeError(`seccomp trace data ${action.data} is outside 0..65535`);
      }
      return (SeccompRet.TRACE | action.data) >>> 0;
  }
}

/** Whether an action lets the system call run (ALLOW, LOG; TRACE leaves it to a tracer). */
export function letsThrough(action: SeccompAction): boolean {
  return action.type === 'allow' || action.type === 'log' || action.type === 'trace';
}

interface Label {
  at: number | undefined;
}

type Item =
  | { kind: 'op'; code: number; k: number }
  | { kind: 'ja'; target: Label }
  | { kind: 'jump'; code: number; k: number; jt: Label; jf: Label; farJt: boolean; farJf: boolean }
  | { kind: 'label'; label: Label };

/** Instructions with symbolic forward jumps; assemble() resolves them. */
class Assembler {
  private readonly items: Item[] = [];

  label(): Label {
    return { at: undefined };
  }
  place(label: Label): void {
    this.items.push({ kind: 'label', label });
  }
  load(offset: number): void {
    this.items.push({ kind: 'op', code: LD_W_ABS, k: offset });
  }
  and(k: number): void {
    this.items.push({ kind: 'op', code: ALU_AND_K, k });
  }
  ret(value: number): void {
    this.items.push({ kind: 'op', code: RET_K, k: value });
  }
  goto(target: Label): void {
    this.items.push({ kind: 'ja', target });
  }
  jump(code: number, k: number, jt: Label, jf: Label): void {
    this.items.push({ kind: 'jump', code, k: k >>> 0, jt, jf, farJt: false, farJf: false });
  }

  /** Lays out the program, adding `ja` trampolines until every short jump fits in 8 bits. */
  assemble(): Buffer {
    const jumps = this.items.filter((i): i is Extract<Item, { kind: 'jump' }> => i.kind === 'jump');
    for (;;) {
      this.layout();
      let changed = false;
      for (const jump of jumps) {
        const { jt, jf } = this.offsets(jump);
        if (!jump.farJt && jt > 255) jump.farJt = changed = true;
        if (!jump.farJf && jf > 255) jump.farJf = changed = true;
      }
      if (!changed) break;
    }
    return this.emit();
  }

  private positions = new Map<Item, number>();

  private layout(): void {
    let pc = 0;
    for (const item of this.items) {
      this.positions.set(item, pc);
      if (item.kind === 'label') item.label.at = pc;
      else if (item.kind === 'jump') pc += 1 + (item.farJt ? 1 : 0) + (item.farJf ? 1 : 0);
      else pc += 1;
    }
  }

  private target(label: Label): number {
    if (label.at === undefined) throw new Error('seccomp assembler: jump to a label never placed');
    return label.at;
  }

  /** Offsets of a jump's branches from the instruction after it (trampolines included). */
  private offsets(jump: Extract<Item, { kind: 'jump' }>): { jt: number; jf: number } {
    const next = (this.positions.get(jump) as number) + 1;
    const jt = this.target(jump.jt) - next;
    const jf = this.target(jump.jf) - next;
    if (jt < 0 || jf < 0) throw new Error('seccomp assembler: backward jump');
    return { jt, jf };
  }

  private emit(): Buffer {
    const out: { code: number; jt: number; jf: number; k: number }[] = [];
    for (const item of this.items) {
      const pc = out.length;
      if (item.kind === 'op') out.push({ code: item.code, jt: 0, jf: 0, k: item.k });
      else if (item.kind === 'ja') out.push({ code: JA, jt: 0, jf: 0, k: this.target(item.target) - (pc + 1) });
      else if (item.kind === 'jump') {
        const { jt, jf } = this.offsets(item);
        // Trampolines follow the jump: [jump][ja → jt target][ja → jf target].
        const jtAt = pc + 1;
        const jfAt = pc + 1 + (item.farJt ? 1 : 0);
        out.push({
          code: item.code,
          jt: item.farJt ? 0 : jt,
          jf: item.farJf ? jfAt - (pc + 1) : jf,
          k: item.k,
        });
        if (item.farJt) out.push({ code: JA, jt: 0, jf: 0, k: this.target(item.jt) - (jtAt + 1) });
        if (item.farJf) out.push({ code: JA, jt: 0, jf: 0, k: this.target(item.jf) - (jfAt + 1) });
      }
    }
    const buffer = Buffer.alloc(out.length * 8);
    out.forEach((insn, i) => {
      buffer.writeUInt16LE(insn.code, i * 8);
      buffer.writeUInt8(insn.jt, i * 8 + 2);
      buffer.writeUInt8(insn.jf, i * 8 + 3);
      buffer.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
    });
    return buffer;
  }
}

type Outcome = { kind: 'ret'; value: number } | { kind: 'rules'; rules: FilterRule[]; fallback: number };

interface Range {
  start: number;
  outcome: Outcome;
}

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

function checkRule(rule: FilterRule): void {
  if (!Number.isInteger(rule.nr) || rule.nr < 0 || rule.nr > U32_MAX) {
    throw new RangeError(`seccomp rule: system call number ${rule.nr} is not a u32`);
  }
  for (const arg of rule.args) {
    if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) {
      throw new RangeError(`seccomp rule: argument index ${arg.index} is outside 0..5`);
    }
    for (const v of [arg.value, arg.valueTwo ?? 0n]) {
      if (v < 0n || v > U64_MAX) throw new RangeError(`seccomp rule: argument value ${v} is not a u64`);
    }
  }
}

/** The outcome of each system call number that has rules. */
function outcomesByNumber(spec: FilterSpec, defaultValue: number): Map<number, Outcome> {
  const groups = new Map<number, FilterRule[]>();
  for (const rule of spec.rules) {
    checkRule(rule);
    const group = groups.get(rule.nr);
    if (group === undefined) groups.set(rule.nr, [rule]);
    else group.push(rule);
  }
  const outcomes = new Map<number, Outcome>();
  for (const [nr, rules] of groups) {
    const unconditional = rules.find((r) => r.args.length === 0);
    const fallback = unconditional === undefined ? defaultValue : actionValue(unconditional.action);
    const conditional = rules.filter((r) => r.args.length > 0 && actionValue(r.action) !== fallback);
    outcomes.set(
      nr,
      conditional.length === 0 ? { kind: 'ret', value: fallback } : { kind: 'rules', rules: conditional, fallback },
    );
  }
  return outcomes;
}

/** Cuts 0..2^32-1 into ranges of one outcome, merging neighbours that return the same. */
function ranges(spec: FilterSpec, defaultValue: number): Range[] {
  const outcomes = outcomesByNumber(spec, defaultValue);
  const enosys: Outcome = { kind: 'ret', value: actionValue(Action.errno(ENOSYS)) };
  const fallback: Outcome = { kind: 'ret', value: defaultValue };
  const x32 = spec.arch === 'x86_64';
  const outcomeOf = (nr: number): Outcome => {
    const outcome = outcomes.get(nr);
    if (outcome !== undefined) return outcome;
    if (x32 && nr >= X32_SYSCALL_BIT) return enosys;
    if (spec.unknownAbove !== undefined && nr > spec.unknownAbove) return enosys;
    return fallback;
  };
  const starts = new Set<number>([0]);
  for (const nr of outcomes.keys()) {
    starts.add(nr);
    if (nr < U32_MAX) starts.add(nr + 1);
  }
  if (x32) starts.add(X32_SYSCALL_BIT);
  if (spec.unknownAbove !== undefined && spec.unknownAbove < U32_MAX) starts.add(spec.unknownAbove + 1);

  const result: Range[] = [];
  for (const start of [...starts].sort((a, b) => a - b)) {
    const outcome = outcomeOf(start);
    const last = result[result.length - 1];
    if (last !== undefined && last.outcome.kind === 'ret' && outcome.kind === 'ret') {
      if (last.outcome.value === outcome.value) continue;
    }
    result.push({ start, outcome });
  }
  return result;
}

function emitCondition(asm: Assembler, cond: ArgCondition, fail: Label): void {
  const lowAt = SeccompData.args + 8 * cond.index;
  const highAt = lowAt + 4;
  const split = (v: bigint) => ({ high: Number(v >> 32n), low: Number(v & 0xffffffffn) });
  const pass = asm.label();
  const step = () => {
    const label = asm.label();
    return { label, place: () => asm.place(label) };
  };
  const { high, low } = split(cond.value);
  switch (cond.op) {
    case 'eq':
    case 'ne': {
      const [onEqual, onDiffer] = cond.op === 'eq' ? [pass, fail] : [fail, pass];
      const lowHalf = step();
      asm.load(highAt);
      asm.jump(JEQ_K, high, lowHalf.label, onDiffer);
      lowHalf.place();
      asm.load(lowAt);
      asm.jump(JEQ_K, low, onEqual, onDiffer);
      break;
    }
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le': {
      // args > value ⇔ high > vh, or high == vh and low > vl (ge: low >= vl);
      // lt and le are the negations of ge and gt.
      const greater = cond.op === 'gt' || cond.op === 'ge';
      const [onAbove, onBelow] = greater ? [pass, fail] : [fail, pass];
      const lowCode = cond.op === 'gt' || cond.op === 'le' ? JGT_K : JGE_K;
      const sameHigh = step();
      const lowHalf = step();
      asm.load(highAt);
      asm.jump(JGT_K, high, onAbove, sameHigh.label);
      sameHigh.place();
      asm.jump(JEQ_K, high, lowHalf.label, onBelow);
      lowHalf.place();
      asm.load(lowAt);
      asm.jump(lowCode, low, onAbove, onBelow);
      break;
    }
    case 'masked-eq': {
      const datum = split(cond.valueTwo ?? 0n);
      const lowHalf = step();
      if (high !== 0) {
        asm.load(highAt);
        asm.and(high);
        asm.jump(JEQ_K, datum.high, lowHalf.label, fail);
      } else if (datum.high !== 0) {
        asm.goto(fail); // (x & 0) can never equal a non-zero high half
      }
      lowHalf.place();
      asm.load(lowAt);
      asm.and(low);
      asm.jump(JEQ_K, datum.low, pass, fail);
      break;
    }
  }
  asm.place(pass);
}

function emitOutcome(asm: Assembler, outcome: Outcome): void {
  if (outcome.kind === 'ret') {
    asm.ret(outcome.value);
    return;
  }
  for (const rule of outcome.rules) {
    const next = asm.label();
    for (const cond of rule.args) emitCondition(asm, cond, next);
    asm.ret(actionValue(rule.action));
    asm.place(next);
  }
  asm.ret(outcome.fallback);
}

/** A balanced binary search on the number (in the accumulator) down to one range. */
function emitSearch(asm: Assembler, list: Range[], lo: number, hi: number): void {
  if (lo === hi) {
    emitOutcome(asm, (list[lo] as Range).outcome);
    return;
  }
  const mid = (lo + hi + 1) >> 1;
  const left = asm.label();
  const right = asm.label();
  asm.jump(JGE_K, (list[mid] as Range).start, right, left);
  asm.place(left);
  emitSearch(asm, list, lo, mid - 1);
  asm.place(right);
  emitSearch(asm, list, mid, hi);
}

/** Compiles a filter; throws HutchError when it exceeds the kernel's 4096 instructions. */
export function compileFilter(spec: FilterSpec): Buffer {
  const defaultValue = actionValue(spec.defaultAction);
  const badArch = spec.badArchAction ?? (letsThrough(spec.defaultAction) ? Action.killProcess : spec.defaultAction);
  const asm = new Assembler();
  const native = asm.label();
  const foreign = asm.label();
  asm.load(SeccompData.arch);
  asm.jump(JEQ_K, AuditArch[spec.arch], native, foreign);
  asm.place(native);
  asm.load(SeccompData.nr);
  const list = ranges(spec, defaultValue);
  emitSearch(asm, list, 0, list.length - 1);
  asm.place(foreign);
  asm.ret(actionValue(badArch));
  const program = asm.assemble();
  const length = program.length / 8;
  if (length > MAX_INSTRUCTIONS) {
    throw new HutchError(`seccomp filter too long: ${length} instructions, the kernel accepts ${MAX_INSTRUCTIONS}`, {
      hint: 'merge rules or drop argument conditions from the seccomp profile',
    });
  }
  return program;
}
