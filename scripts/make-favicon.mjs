// Renders web/favicon.svg into web/favicon.ico (one 32x32 PNG inside an ICO container, which
// every browser reads) with Debian's chromium. Run it after changing the SVG:
// node scripts/make-favicon.mjs. The .ico is committed: the server only serves it.
import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const root = new URL('..', import.meta.url);
const svg = readFileSync(new URL('web/favicon.svg', root), 'utf8');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox'],
});
try {
  const page = await browser.newPage({ viewport: { width: 32, height: 32 } });
  await page.setContent(`<html><body style="margin:0;background:transparent">${svg}</body></html>`);
  const png = await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: 32, height: 32 } });
  // ICONDIR (reserved 0, type 1 = icon, 1 image) + one ICONDIRENTRY + the PNG.
  const head = Buffer.alloc(22);
  head.writeUInt16LE(0, 0);
  head.writeUInt16LE(1, 2);
  head.writeUInt16LE(1, 4);
  head.writeUInt8(32, 6); // width
  head.writeUInt8(32, 7); // height
  head.writeUInt8(0, 8); // no palette
  head.writeUInt8(0, 9);
  head.writeUInt16LE(1, 10); // colour planes
  head.writeUInt16LE(32, 12); // bits per pixel
  head.writeUInt32LE(png.length, 14);
  head.writeUInt32LE(22, 18); // offset of the image
  writeFileSync(new URL('web/favicon.ico', root), Buffer.concat([head, png]));
  console.error(`wirehub: wrote web/favicon.ico (${22 + png.length} bytes)`);
} finally {
  await browser.close();
}
