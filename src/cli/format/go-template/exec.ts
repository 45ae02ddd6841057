// The executor of Go's text/template (Go 1.19): walks a parsed tree over a value and returns the
// text. It follows exec.go step by step where the output or the error message depends on it: which
// node an error names (`executing "ps" at <.Nope>`), the order arguments are checked in, variables'
// scopes, range over slices and sorted maps, break and continue.
import { TemplateError } from './errors.js';
import { quote, sprint } from './fmt.js';
import { CallError, FUNCS, SHORT_CIRCUIT, type GoFunc, type ParamType } from './funcs.js';
import {
  nodeString,
  type ActionNode,
  type BranchNode,
  type ChainNode,
  type CommandNode,
  type FieldNode,
  type IdentifierNode,
  type Node,
  type NumberNode,
  type PipeNode,
  type TemplateNode,
  type Tree,
  type VariableNode,
} from './nodes.js';
import { declaredStruct, entriesOf, GoFloat, isTrue, kindOf, typeName } from './values.js';

/** The functions templates may call, for the parser's check. */
export const FUNC_NAMES: ReadonlySet<string> = new Set(FUNCS.keys());

/** Go's own limit on {{template}} recursion. */
const MAX_EXEC_DEPTH = 100000;

const MISSING = Symbol('missing');
type Final = unknown;
const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');

interface Variable {
  name: string;
  value: unknown;
}

const PARAM_TYPE_NAMES: Record<ParamType, string> = {
  string: 'string',
  int: 'int',
  bool: 'bool',
  '[]string': '[]string',
  any: 'interface {}',
  value: 'reflect.Value',
};

/** The line:column Go prints for a node: columns count UTF-8 bytes from the line's start. */
function location(tree: Tree, pos: number): string {
  const before = tree.text.slice(0, pos);
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  return `${tree.parseName}:${line}:${Buffer.byteLength(before.slice(lineStart))}`;
}

class State {
  private node: Node | undefined;

  constructor(
    private readonly trees: ReadonlyMap<string, Tree>,
    private readonly tree: Tree,
    private readonly name: string,
    private vars: Variable[],
    private readonly out: string[],
    private readonly depth: number,
  ) {}

  private at(node: Node): void {
    this.node = node;
  }

  private errorf(message: string): never {
    if (this.node === undefined) throw new TemplateError(`template: ${this.name}: ${message}`);
    const context = nodeString(this.node);
    throw new TemplateError(
      `template: ${location(this.tree, this.node.pos)}: executing ${quote(this.name)} at <${context}>: ${message}`,
    );
  }

  // ---- variables ----

  private mark(): number {
    return this.vars.length;
  }

  private pop(mark: number): void {
    this.vars.length = mark;
  }

  private push(name: string, value: unknown): void {
    this.vars.push({ name, value });
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as Variable;
      if (v.name === name) {
        v.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private setTopVar(n: number, value: unknown): void {
    (this.vars[this.vars.length - n] as Variable).value = value;
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as Variable;
      if (v.name === name) return v.value;
    }
    this.errorf(`undefined variable: ${name}`);
  }

  // ---- walking the tree ----

  walk(dot: unknown, node: Node): void {
    this.at(node);
    switch (node.type) {
      case 'action': {
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, value);
        return;
      }
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
      case 'comment':
        return;
      case 'if':
      case 'with':
        this.walkIfOrWith(dot, node);
        return;
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'template':
        this.walkTemplate(dot, node);
        return;
      case 'text':
        this.out.push(node.text);
        return;
      default:
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  private walkIfOrWith(dot: unknown, node: BranchNode): void {
    const mark = this.mark();
    try {
      const value = this.evalPipeline(dot, node.pipe);
      if (isTrue(value)) this.walk(node.type === 'with' ? value : dot, node.list);
      else if (node.elseList !== undefined) this.walk(dot, node.elseList);
    } finally {
      this.pop(mark);
    }
  }

  private walkRange(dot: unknown, r: BranchNode): void {
    this.at(r);
    const outer = this.mark();
    try {
      const value = this.evalPipeline(dot, r.pipe);
      const mark = this.mark();
      const decl = r.pipe.decl;
      const oneIteration = (index: unknown, elem: unknown): void => {
        if (decl.length > 0) {
          // With two variables the first is the index; with one, the element.
          if (r.pipe.isAssign)
            this.setVar((decl[0] as VariableNode).ident[0] as string, decl.length > 1 ? index : elem);
          else this.setTopVar(1, elem);
        }
        if (decl.length > 1) {
          if (r.pipe.isAssign) this.setVar((decl[1] as VariableNode).ident[0] as string, elem);
          else this.setTopVar(2, index);
        }
        try {
          this.walk(elem, r.list);
        } catch (signal) {
          if (signal !== CONTINUE) throw signal;
        } finally {
          this.pop(mark);
        }
      };
      const kind = kindOf(value);
      if (kind === 'slice' && (value as unknown[]).length > 0) {
        (value as unknown[]).forEach((elem, i) => oneIteration(i, elem));
        return;
      }
      if ((kind === 'map' || kind === 'struct') && declaredStruct(value as object) === undefined) {
        const entries = entriesOf(value as object);
        if (entries.length > 0) {
          for (const [key, elem] of entries) oneIteration(key, elem);
          return;
        }
      } else if (kind !== 'slice' && kind !== 'invalid' && kind !== 'nil') {
        this.errorf(`range can't iterate over ${sprint([value])}`);
      }
      if (r.elseList !== undefined) this.walk(dot, r.elseList);
    } catch (signal) {
      if (signal !== BREAK) throw signal;
    } finally {
      this.pop(outer);
    }
  }

  private walkTemplate(dot: unknown, t: TemplateNode): void {
    this.at(t);
    const tree = this.trees.get(t.name);
    if (tree === undefined) this.errorf(`template ${quote(t.name)} not defined`);
    if (this.depth === MAX_EXEC_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    const value = this.evalPipeline(dot, t.pipe);
    // No dynamic scoping: the template sees only $, its dot.
    new State(this.trees, tree, t.name, [{ name: '$', value }], this.out, this.depth + 1).walk(value, tree.root);
  }

  private printValue(node: ActionNode, value: unknown): void {
    this.at(node);
    if (value === undefined) {
      this.out.push('<no value>');
      return;
    }
    if (kindOf(value) === 'func') this.errorf(`can't print ${nodeString(node)} of type ${typeName(value)}`);
    this.out.push(sprint([value]));
  }

  // ---- evaluating pipelines ----

  private evalPipeline(dot: unknown, pipe: PipeNode | undefined): unknown {
    if (pipe === undefined) return undefined;
    this.at(pipe);
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    for (const variable of pipe.decl) {
      const name = variable.ident[0] as string;
      if (pipe.isAssign) this.setVar(name, value);
      else this.push(name, value);
    }
    return value;
  }

  private notAFunction(args: Node[], final: Final): void {
    if (args.length > 1 || final !== MISSING) {
      this.errorf(`can't give argument to non-function ${nodeString(args[0] as Node)}`);
    }
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0] as Node;
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
      default:
        break;
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.errorf('nil is not a command');
        break;
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
      default:
        break;
    }
    this.errorf(`can't evaluate command ${quote(nodeString(first))}`);
  }

  private idealConstant(n: NumberNode): unknown {
    this.at(n);
    const hexInt = /^0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    const runeInt = n.text.startsWith("'");
    if (n.isFloat && !hexInt && !runeInt && /[.eEpP]/.test(n.text)) return new GoFloat(n.float);
    if (n.isInt) return n.int;
    if (n.isUint) this.errorf(`${n.text} overflows int`);
    return undefined;
  }

  private evalFieldNode(dot: unknown, field: FieldNode, args: Node[], final: Final): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  private evalChainNode(dot: unknown, chain: ChainNode, args: Node[], final: Final): unknown {
    this.at(chain);
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, undefined, chain.node);
    return this.evalFieldChain(dot, pipe, chain, chain.field, args, final);
  }

  private evalVariableNode(dot: unknown, variable: VariableNode, args: Node[], final: Final): unknown {
    this.at(variable);
    const value = this.varValue(variable.ident[0] as string);
    if (variable.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, variable, variable.ident.slice(1), args, final);
  }

  private evalFieldChain(
    dot: unknown,
    receiver: unknown,
    node: Node,
    ident: string[],
    args: Node[],
    final: Final,
  ): unknown {
    let value = receiver;
    ident.forEach((name, i) => {
      value =
        i < ident.length - 1 ? this.evalField(name, [], MISSING, value) : this.evalField(name, args, final, value);
    });
    return value;
  }

  private evalField(name: string, args: Node[], final: Final, receiver: unknown): unknown {
    // A field of no value (a missing map key) is no value again, as in Go.
    if (receiver === undefined) return undefined;
    const hasArgs = args.length > 1 || final !== MISSING;
    const kind = kindOf(receiver);
    if (kind === 'nil') return undefined;
    if (kind === 'map' || kind === 'struct') {
      const object = receiver as Record<string, unknown>;
      const struct = declaredStruct(object) !== undefined;
      if (Object.hasOwn(object, name)) {
        if (hasArgs) {
          this.errorf(
            struct
              ? `${name} has arguments but cannot be invoked as function`
              : `${name} is not a method but has arguments`,
          );
        }
        return object[name] === undefined ? null : object[name];
      }
      if (!struct) {
        if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
        return undefined;
      }
    }
    this.errorf(`can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  private evalFunction(dot: unknown, node: IdentifierNode, cmd: Node, args: Node[], final: Final): unknown {
    this.at(node);
    const fn = FUNCS.get(node.ident);
    if (fn === undefined) this.errorf(`${quote(node.ident)} is not a defined function`);
    return this.evalCall(dot, fn, cmd, node.ident, args, final);
  }

  private evalCall(dot: unknown, fn: GoFunc, node: Node, name: string, allArgs: Node[], final: Final): unknown {
    const args = allArgs.slice(1);
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    let numFixed = args.length;
    if (fn.variadic !== undefined) {
      numFixed = fn.params.length;
      if (numIn < numFixed) {
        this.errorf(`wrong number of args for ${name}: want at least ${fn.params.length} got ${args.length}`);
      }
    } else if (numIn !== fn.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${fn.params.length} got ${numIn}`);
    }
    if (SHORT_CIRCUIT.has(name)) {
      let value: unknown;
      for (const arg of args) {
        value = this.evalArg(dot, 'value', arg);
        if (isTrue(value) === (name === 'or')) return value;
      }
      if (final !== MISSING) value = this.validateType(final, 'value');
      return value;
    }
    const argv: unknown[] = [];
    let i = 0;
    for (; i < numFixed && i < args.length; i++) argv.push(this.evalArg(dot, fn.params[i], args[i] as Node));
    for (; i < args.length; i++) argv.push(this.evalArg(dot, fn.variadic, args[i] as Node));
    if (final !== MISSING) {
      let t = fn.params.at(-1) ?? fn.variadic;
      if (fn.variadic !== undefined) t = numIn - 1 < numFixed ? fn.params[numIn - 1] : fn.variadic;
      argv.push(this.validateType(final, t));
    }
    try {
      return fn.call(argv);
    } catch (error) {
      if (!(error instanceof CallError)) throw error;
      this.at(node);
      this.errorf(`error calling ${name}: ${error.message}`);
    }
  }

  // ---- arguments ----

  /** type undefined: an untyped operand (the start of a chain). */
  private evalArg(dot: unknown, type: ParamType | undefined, n: Node): unknown {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, type);
      case 'nil':
        if (type === undefined || type === 'any' || type === 'value' || type === '[]string') return zeroOf(type);
        this.errorf(`cannot assign nil to ${PARAM_TYPE_NAMES[type]}`);
        break;
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), type);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, [], MISSING), type);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), type);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, [], MISSING), type);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, [], MISSING), type);
      default:
        break;
    }
    switch (type) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        this.errorf(`expected bool; found ${nodeString(n)}`);
        break;
      case 'int':
        if (n.type === 'number' && n.isInt) return n.int;
        this.errorf(`expected integer; found ${nodeString(n)}`);
        break;
      case 'string':
        if (n.type === 'string') return n.text;
        this.errorf(`expected string; found ${nodeString(n)}`);
        break;
      case 'any':
      case 'value':
      case undefined:
        return this.evalEmptyInterface(n);
      default:
        break;
    }
    this.errorf(`can't handle ${nodeString(n)} for arg of type ${PARAM_TYPE_NAMES[type]}`);
  }

  private evalEmptyInterface(n: Node): unknown {
    this.at(n);
    switch (n.type) {
      case 'bool':
        return n.value;
      case 'number':
        return this.idealConstant(n);
      case 'string':
        return n.text;
      default:
        this.errorf(`can't handle assignment of ${nodeString(n)} to empty interface argument`);
    }
  }

  private validateType(value: unknown, type: ParamType | undefined): unknown {
    if (value === undefined) {
      if (type === undefined || type === 'any' || type === 'value' || type === '[]string') return zeroOf(type);
      this.errorf(`invalid value; expected ${PARAM_TYPE_NAMES[type]}`);
    }
    const kind = kindOf(value);
    let ok: boolean;
    switch (type) {
      case undefined:
      case 'any':
      case 'value':
        return value;
      case 'string':
      case 'int':
      case 'bool':
        ok = kind === type;
        break;
      case '[]string':
        ok = kind === 'nil' || (kind === 'slice' && (value as unknown[]).every((e) => typeof e === 'string'));
        if (kind === 'nil') return [];
        break;
    }
    if (!ok) this.errorf(`wrong type for value; expected ${PARAM_TYPE_NAMES[type]}; got ${typeName(value)}`);
    return value;
  }
}

/** Go's zero value for a parameter that receives nil or no value. */
function zeroOf(type: ParamType | undefined): unknown {
  if (type === 'any') return null;
  if (type === '[]string') return [];
  return undefined;
}

/**
 * Runs the tree named name (of trees, all parsed from one text) over data. An error is one line in
 * Go's words, the output so far dropped.
 */
export function execute(trees: ReadonlyMap<string, Tree>, name: string, data: unknown): string {
  const tree = trees.get(name);
  if (tree === undefined) throw new TemplateError(`template: no template ${quote(name)} associated with template`);
  const out: string[] = [];
  const state = new State(trees, tree, name, [{ name: '$', value: data }], out, 0);
  try {
    state.walk(data, tree.root);
  } catch (error) {
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      throw new TemplateError(`template: ${name}: exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    }
    throw error;
  }
  return out.join('');
}
