// The parse tree of a Go template, as text/template/parse builds it. String() of a node is what Go
// prints between <> in an execution error (`executing "ps" at <.Nope>`) and in some parse errors.
import { quote } from './fmt.js';

interface At {
  /** Offset in the template text. */
  pos: number;
}

export interface ListNode extends At {
  type: 'list';
  nodes: Node[];
}
export interface TextNode extends At {
  type: 'text';
  text: string;
}
export interface CommentNode extends At {
  type: 'comment';
  text: string;
}
export interface ActionNode extends At {
  type: 'action';
  pipe: PipeNode;
}
export interface PipeNode extends At {
  type: 'pipe';
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
export interface CommandNode extends At {
  type: 'command';
  args: Node[];
}
export interface BranchNode extends At {
  type: 'if' | 'range' | 'with';
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | undefined;
}
export interface TemplateNode extends At {
  type: 'template';
  name: string;
  pipe: PipeNode | undefined;
}
export interface FieldNode extends At {
  type: 'field';
  ident: string[];
}
export interface ChainNode extends At {
  type: 'chain';
  node: Node;
  field: string[];
}
export interface VariableNode extends At {
  type: 'variable';
  ident: string[];
}
export interface IdentifierNode extends At {
  type: 'identifier';
  ident: string;
}
export interface BoolNode extends At {
  type: 'bool';
  value: boolean;
}
export interface NumberNode extends At {
  type: 'number';
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  int: number;
  float: number;
}
export interface StringNode extends At {
  type: 'string';
  quoted: string;
  text: string;
}
export interface SimpleNode extends At {
  type: 'dot' | 'nil' | 'break' | 'continue' | 'end' | 'else';
}

export type Node =
  | ListNode
  | TextNode
  | CommentNode
  | ActionNode
  | PipeNode
  | CommandNode
  | BranchNode
  | TemplateNode
  | FieldNode
  | ChainNode
  | VariableNode
  | IdentifierNode
  | BoolNode
  | NumberNode
  | StringNode
  | SimpleNode;

function pipeString(p: PipeNode): string {
  const decl = p.decl.length > 0 ? `${p.decl.map(nodeString).join(', ')} := ` : '';
  return decl + p.cmds.map(nodeString).join(' | ');
}

export function nodeString(n: Node): string {
  switch (n.type) {
    case 'list':
      return n.nodes.map(nodeString).join('');
    case 'text':
      return n.text;
    case 'comment':
      return `{{${n.text}}}`;
    case 'action':
      return `{{${pipeString(n.pipe)}}}`;
    case 'pipe':
      return pipeString(n);
    case 'command':
      return n.args.map((a) => (a.type === 'pipe' ? `(${pipeString(a)})` : nodeString(a))).join(' ');
    case 'if':
    case 'range':
    case 'with': {
      const elseList = n.elseList === undefined ? '' : `{{else}}${nodeString(n.elseList)}`;
      return `{{${n.type} ${pipeString(n.pipe)}}}${nodeString(n.list)}${elseList}{{end}}`;
    }
    case 'template':
      return n.pipe === undefined
        ? `{{template ${quote(n.name)}}}`
        : `{{template ${quote(n.name)} ${pipeString(n.pipe)}}}`;
    case 'field':
      return n.ident.map((i) => `.${i}`).join('');
    case 'chain': {
      const base = n.node.type === 'pipe' ? `(${pipeString(n.node)})` : nodeString(n.node);
      return base + n.field.map((f) => `.${f}`).join('');
    }
    case 'variable':
      return n.ident.join('.');
    case 'identifier':
      return n.ident;
    case 'bool':
      return String(n.value);
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'break':
    case 'continue':
    case 'end':
    case 'else':
      return `{{${n.type}}}`;
  }
}

/** A parsed template: its body, and the text it came from (for error positions). */
export interface Tree {
  name: string;
  /** The name of the top-level template being parsed: errors of every tree it defines name it. */
  parseName: string;
  root: ListNode;
  text: string;
}
