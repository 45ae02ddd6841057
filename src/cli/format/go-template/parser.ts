// The parser of Go's text/template (Go 1.19): a template text becomes trees, the main one and any
// {{define}}d or {{block}}ed, checking what Go checks while parsing (functions exist, variables are
// declared, {{break}} sits in a range) with Go's messages: `template: ps:1: function "x" not defined`.
import { TemplateError } from './errors.js';
import { quote } from './fmt.js';
import { itemString, lex, type Item, type ItemType } from './lexer.js';
import { parseFloat64, parseInteger, SyntaxError, unquote, unquoteChar } from './literals.js';
import {
  nodeString,
  type BranchNode,
  type CommandNode,
  type ListNode,
  type Node,
  type NumberNode,
  type PipeNode,
  type Tree,
  type VariableNode,
} from './nodes.js';

/** The items of one text, shared by the trees parsed from it. */
class ItemStream {
  private index = 0;
  constructor(private readonly items: Item[]) {}

  next(): Item {
    const item = this.items[Math.min(this.index, this.items.length - 1)] as Item;
    this.index++;
    return item;
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

class Parser {
  // Go's three-token lookahead: token[0] is the item read last, the parse errors give its line.
  private token: Item[] = [];
  private peekCount = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private actionLine = 0;

  constructor(
    private name: string,
    private readonly parseName: string,
    private readonly text: string,
    private readonly stream: ItemStream,
    private readonly funcs: ReadonlySet<string>,
    private readonly trees: Map<string, Tree>,
  ) {}

  private next(): Item {
    if (this.peekCount > 0) this.peekCount--;
    else this.token[0] = this.stream.next();
    return this.token[this.peekCount] as Item;
  }

  private backup(): void {
    this.peekCount++;
  }

  private backup2(t1: Item): void {
    this.token[1] = t1;
    this.peekCount = 2;
  }

  private backup3(t2: Item, t1: Item): void {
    this.token[1] = t1;
    this.token[2] = t2;
    this.peekCount = 3;
  }

  private peek(): Item {
    if (this.peekCount > 0) return this.token[this.peekCount - 1] as Item;
    this.peekCount = 1;
    this.token[0] = this.stream.next();
    return this.token[0];
  }

  private nextNonSpace(): Item {
    let token: Item;
    do token = this.next();
    while (token.type === 'space');
    return token;
  }

  private peekNonSpace(): Item {
    const token = this.nextNonSpace();
    this.backup();
    return token;
  }

  private errorf(message: string): never {
    throw new TemplateError(`template: ${this.parseName}:${this.token[0]?.line ?? 1}: ${message}`);
  }

  private expect(expected: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.type !== expected) this.unexpected(token, context);
    return token;
  }

  private expectOneOf(a: ItemType, b: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.type !== a && token.type !== b) this.unexpected(token, context);
    return token;
  }

  private unexpected(token: Item, context: string): never {
    if (token.type === 'error') {
      const extra =
        this.actionLine !== 0 && this.actionLine !== token.line
          ? ` in ${context} starting at line ${this.actionLine}`
          : '';
      this.errorf(`${token.val}${extra}`);
    }
    this.errorf(`unexpected ${itemString(token)} in ${context}`);
  }

  /** The whole text: the main tree (and the ones it defines) go into trees. */
  parse(): void {
    const root: ListNode = { type: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== 'eof') {
      if (this.peek().type === 'leftDelim') {
        const delim = this.next();
        if (this.nextNonSpace().type === 'define') {
          this.child('definition').parseDefinition();
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.errorf(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    this.add(root);
  }

  private child(name: string): Parser {
    return new Parser(name, this.parseName, this.text, this.stream, this.funcs, this.trees);
  }

  private add(root: ListNode): void {
    const existing = this.trees.get(this.name);
    if (existing === undefined || isEmptyTree(existing.root)) {
      this.trees.set(this.name, { name: this.name, parseName: this.parseName, root, text: this.text });
      return;
    }
    if (!isEmptyTree(root)) this.errorf(`template: multiple definition of template ${quote(this.name)}`);
  }

  private parseDefinition(): void {
    const context = 'define clause';
    const name = this.expectOneOf('string', 'rawString', context);
    this.name = this.unquote(name.val);
    this.expect('rightDelim', context);
    const { list, end } = this.itemList();
    if (end.type !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.add(list);
  }

  private itemList(): { list: ListNode; end: Node } {
    const list: ListNode = { type: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return { list, end: n };
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  private textOrAction(): Node {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'text':
        return { type: 'text', pos: token.pos, text: token.val };
      case 'leftDelim': {
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
      case 'comment':
        return { type: 'comment', pos: token.pos, text: token.val };
      default:
        this.unexpected(token, 'input');
    }
  }

  private action(): Node {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'block':
        return this.blockControl();
      case 'break':
      case 'continue':
        return this.loopControl(token);
      case 'else':
        return this.elseControl();
      case 'end':
        return { type: 'end', pos: this.expect('rightDelim', 'end').pos };
      case 'if':
        return this.parseControl(true, 'if');
      case 'range':
        return this.parseControl(false, 'range');
      case 'template':
        return this.templateControl();
      case 'with':
        return this.parseControl(false, 'with');
      default:
        break;
    }
    this.backup();
    const pos = this.peek().pos;
    return { type: 'action', pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private loopControl(token: Item): Node {
    const word = token.type as 'break' | 'continue';
    const next = this.nextNonSpace();
    if (next.type !== 'rightDelim') this.unexpected(next, `{{${word}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${word}}} outside {{range}}`);
    return { type: word, pos: token.pos };
  }

  private elseControl(): Node {
    const peek = this.peekNonSpace();
    // {{else if …}}: the if stays pending, parseControl reads it as a nested if.
    if (peek.type === 'if') return { type: 'else', pos: peek.pos };
    return { type: 'else', pos: this.expect('rightDelim', 'else').pos };
  }

  private parseControl(allowElseIf: boolean, context: 'if' | 'range' | 'with'): BranchNode {
    const depth = this.vars.length;
    try {
      const pipe = this.pipeline(context, 'rightDelim');
      if (context === 'range') this.rangeDepth++;
      const { list, end } = this.itemList();
      let next = end;
      if (context === 'range') this.rangeDepth--;
      let elseList: ListNode | undefined;
      if (next.type === 'else') {
        if (allowElseIf && this.peek().type === 'if') {
          this.next();
          elseList = { type: 'list', pos: next.pos, nodes: [this.parseControl(true, 'if')] };
        } else {
          ({ list: elseList, end: next } = this.itemList());
          if (next.type !== 'end') this.errorf(`expected end; found ${nodeString(next)}`);
        }
      }
      return { type: context, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = depth;
    }
  }

  private templateControl(): Node {
    const context = 'template clause';
    const token = this.nextNonSpace();
    const name = this.templateName(token, context);
    let pipe: PipeNode | undefined;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.backup();
      pipe = this.pipeline(context, 'rightDelim');
    }
    return { type: 'template', pos: token.pos, name, pipe };
  }

  private blockControl(): Node {
    const context = 'block clause';
    const token = this.nextNonSpace();
    const name = this.templateName(token, context);
    const pipe = this.pipeline(context, 'rightDelim');
    const block = this.child(name);
    const { list, end } = block.itemList();
    if (end.type !== 'end') block.errorf(`unexpected ${nodeString(end)} in ${context}`);
    block.add(list);
    return { type: 'template', pos: token.pos, name, pipe };
  }

  private templateName(token: Item, context: string): string {
    if (token.type !== 'string' && token.type !== 'rawString') this.unexpected(token, context);
    return this.unquote(token.val);
  }

  private unquote(token: string): string {
    try {
      return unquote(token);
    } catch (error) {
      if (error instanceof SyntaxError) this.errorf(error.message);
      throw error;
    }
  }

  private pipeline(context: string, end: ItemType): PipeNode {
    const pipe: PipeNode = { type: 'pipe', pos: this.peekNonSpace().pos, isAssign: false, decl: [], cmds: [] };
    this.declarations(pipe, context);
    for (;;) {
      const token = this.nextNonSpace();
      if (token.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (token.type) {
        case 'bool':
        case 'charConstant':
        case 'complex':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  // `$x :=`, `$x =`, and range's `$i, $e :=`.
  private declarations(pipe: PipeNode, context: string): void {
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') return;
      this.next();
      // Space is a token: in "$x foo" the token after the variable is pushed back with it.
      const tokenAfterVariable = this.peek();
      const next = this.peekNonSpace();
      const variable: VariableNode = { type: 'variable', pos: v.pos, ident: v.val.split('.') };
      if (next.type === 'assign' || next.type === 'declare') {
        pipe.isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push(variable);
        this.vars.push(v.val);
        return;
      }
      if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push(variable);
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const after = this.peekNonSpace().type;
          if (after === 'variable' || after === 'rightDelim' || after === 'rightParen') continue;
          this.errorf('range can only initialize variables');
        }
        this.errorf(`too many declarations in ${context}`);
      }
      if (tokenAfterVariable.type === 'space') this.backup3(v, tokenAfterVariable);
      else this.backup2(v);
      return;
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((c, i) => {
      const first = c.args[0]?.type;
      if (first === 'bool' || first === 'dot' || first === 'nil' || first === 'number' || first === 'string') {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand !== undefined) cmd.args.push(operand);
      const token = this.next();
      if (token.type === 'space') continue;
      if (token.type === 'rightDelim' || token.type === 'rightParen') this.backup();
      else if (token.type !== 'pipe') this.unexpected(token, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  private operand(): Node | undefined {
    const node = this.term();
    if (node === undefined || this.peek().type !== 'field') return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { type: 'variable', pos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.errorf(`unexpected . after term ${quote(nodeString(node))}`);
        break;
      default:
        break;
    }
    return { type: 'chain', pos, node, field: fields };
  }

  private term(): Node | undefined {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'identifier':
        if (!this.funcs.has(token.val)) this.errorf(`function ${quote(token.val)} not defined`);
        return { type: 'identifier', pos: token.pos, ident: token.val };
      case 'dot':
        return { type: 'dot', pos: token.pos };
      case 'nil':
        return { type: 'nil', pos: token.pos };
      case 'variable':
        return this.useVar(token);
      case 'field':
        return { type: 'field', pos: token.pos, ident: [token.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: token.pos, value: token.val === 'true' };
      case 'charConstant':
      case 'complex':
      case 'number':
        return this.newNumber(token);
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return { type: 'string', pos: token.pos, quoted: token.val, text: this.unquote(token.val) };
      default:
        this.backup();
        return undefined;
    }
  }

  private useVar(token: Item): VariableNode {
    const v: VariableNode = { type: 'variable', pos: token.pos, ident: token.val.split('.') };
    if (!this.vars.includes(v.ident[0] as string)) this.errorf(`undefined variable ${quote(v.ident[0] as string)}`);
    return v;
  }

  private newNumber(token: Item): NumberNode {
    const text = token.val;
    const n: NumberNode = {
      type: 'number',
      pos: token.pos,
      text,
      isInt: false,
      isUint: false,
      isFloat: false,
      int: 0,
      float: 0,
    };
    if (token.type === 'charConstant') {
      let parsed: { value: number; tail: string };
      try {
        parsed = unquoteChar(text.slice(1), "'");
      } catch (error) {
        if (error instanceof SyntaxError) this.errorf(error.message);
        throw error;
      }
      if (parsed.tail !== "'") this.errorf(`malformed character constant: ${text}`);
      return { ...n, isInt: true, isUint: true, isFloat: true, int: parsed.value, float: parsed.value };
    }
    if (token.type === 'complex' || text.endsWith('i')) {
      this.errorf(`complex number ${text}: hutch's templates have no complex numbers`);
    }
    const integer = parseInteger(text);
    if (integer !== undefined) {
      n.isInt = integer >= INT64_MIN && integer <= INT64_MAX;
      n.isUint = !text.startsWith('+') && !text.startsWith('-') && integer >= 0n && integer <= UINT64_MAX;
      if (n.isInt && integer === 0n) n.isUint = true;
    }
    if (n.isInt || n.isUint) {
      n.int = Number(integer);
      n.isFloat = true;
      n.float = n.int;
    } else {
      const f = parseFloat64(text);
      if (f !== undefined) {
        if (!/[.eEpP]/.test(text)) this.errorf(`integer overflow: ${quote(text)}`);
        n.isFloat = true;
        n.float = f;
        if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
          n.isInt = true;
          n.int = f;
        }
        if (Number.isInteger(f) && f >= 0 && f < 2 ** 64) n.isUint = true;
      }
    }
    if (!n.isInt && !n.isUint && !n.isFloat) this.errorf(`illegal number syntax: ${quote(text)}`);
    return n;
  }
}

function isEmptyTree(n: Node): boolean {
  switch (n.type) {
    case 'list':
      return n.nodes.every(isEmptyTree);
    case 'text':
      return n.text.trim() === '';
    case 'comment':
      return true;
    default:
      return false;
  }
}

/**
 * Parses a template named name (the name errors give) into its trees by name: name's own and any it
 * defines. funcs are the names of the functions it may call.
 */
export function parseTemplate(name: string, text: string, funcs: ReadonlySet<string>): Map<string, Tree> {
  const trees = new Map<string, Tree>();
  new Parser(name, name, text, new ItemStream(lex(text)), funcs, trees).parse();
  return trees;
}
