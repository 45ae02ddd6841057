// `hutch image tree`: podman's header and its layer tree (gotree's drawing).
import { hexOf, shortId } from '../../image/digest.js';
import type { ImageTree, TreeLayer } from '../../verbs/image-tree.js';
import { goHumanSize } from './go-units.js';

interface Node {
  text: string;
  children: Node[];
}

function layerText(layer: TreeLayer): string {
  const tags = layer.topOf.length === 0 ? '' : ` Top Layer of: [${layer.topOf.join(' ')}]`;
  return `ID: ${hexOf(layer.id).slice(0, 12)} Size: ${goHumanSize(layer.size).padStart(7)}${tags}`;
}

/** --whatrequires: a layer with one child or none puts its descendants beside it, as podman does. */
function addDescendants(layer: TreeLayer, siblings: Node[]): void {
  const node: Node = { text: layerText(layer), children: [] };
  siblings.push(node);
  const into = layer.children.length <= 1 ? siblings : node.children;
  for (const child of layer.children) addDescendants(child, into);
}

function draw(nodes: Node[], indent: string): string {
  return nodes
    .map((node, i) => {
      const last = i === nodes.length - 1;
      const [first, ...rest] = node.text.split('\n');
      const lines = [`${indent}${last ? '└── ' : '├── '}${first}`];
      for (const line of rest) lines.push(`${indent}${last ? '    ' : '│   '}${line}`);
      return `${lines.join('\n')}\n${draw(node.children, indent + (last ? '    ' : '│   '))}`;
    })
    .join('');
}

export function formatImageTree(tree: ImageTree, whatRequires: boolean): string {
  const header =
    `Image ID: ${shortId(tree.id)}\n` +
    `Tags:     [${tree.tags.join(' ')}]\n` +
    `Size:     ${goHumanSize(tree.size)}\n` +
    (tree.layers.length === 0 ? 'No Image Layers' : 'Image Layers');
  const nodes: Node[] = [];
  if (whatRequires) for (const layer of tree.layers) addDescendants(layer, nodes);
  else for (const layer of tree.layers) nodes.push({ text: layerText(layer), children: [] });
  // podman prints gotree's text with a newline of its own.
  return `${header}\n${draw(nodes, '')}\n`;
}
