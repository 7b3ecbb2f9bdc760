/** Player and page styles, injected once (keeps the page to one request besides its script). */
export const PLAYER_CSS = `
.onair-player { position: relative; background: #000; color: #fff; outline: none; }
.onair-player:focus-visible { box-shadow: 0 0 0 3px #ffbf47; }
.onair-player video { display: block; width: 100%; aspect-ratio: 16 / 9; background: #000; }
.onair-player .controls { display: flex; align-items: center; gap: 8px; padding: 6px 8px; background: #1d1d1d; flex-wrap: wrap; }
.onair-player button { display: inline-flex; align-items: center; justify-content: center; }
.onair-player button, .onair-player select { background: #333; color: #fff; border: 1px solid #555; border-radius: 4px; min-width: 36px; min-height: 36px; font: inherit; }
.onair-player button:focus-visible, .onair-player select:focus-visible, .onair-player input:focus-visible { outline: 3px solid #ffbf47; }
.onair-player .seek { position: relative; flex: 1 1 200px; display: flex; }
.onair-player .seek input { width: 100%; }
.onair-player .preview { display: none; position: absolute; bottom: 28px; border: 2px solid #fff; background-color: #000; font-size: 12px; text-align: center; line-height: 1; pointer-events: none; }
.onair-player .live-badge { background: #c4001a; border-color: #c4001a; font-weight: 700; font-size: 12px; letter-spacing: 0.05em; padding: 0 8px; }
.onair-player .live-badge.behind { background: #555; border-color: #777; }
.onair-player .time { font-variant-numeric: tabular-nums; font-size: 14px; }
.onair-player input.volume { width: 80px; }
@media (max-width: 520px) { .onair-player input.volume { display: none; } .onair-player .live-badge { background: #c4001a; border-color: #c4001a; font-weight: 700; font-size: 12px; letter-spacing: 0.05em; padding: 0 8px; }
.onair-player .live-badge.behind { background: #555; border-color: #777; }
.onair-player .time { font-size: 12px; } }
`;

/**
 * Adopts the styles as a constructed stylesheet: the pages' Content-Security-Policy allows no
 * inline `<style>`, and constructed sheets are not inline markup.
 */
export function injectStyles(css: string): void {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}
