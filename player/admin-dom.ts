/** Building the app's panels from DOM calls (never HTML strings: names and headlines are viewers' and marketers' text). */

/** An element with its properties set and its children appended. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** The message of an API error answer, for the panel's status line. */
export async function errorOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? `Failed (${response.status}).`;
  } catch {
    return `Failed (${response.status}).`;
  }
}
