// Drives a site node's custodian page in Debian's Chromium (started by
// tests/integration/browser_test.cc while a study waits for this site's approval):
//   node tests/browser/custodian_ui.mjs PAGE_URL TOKEN_FILE OUT_DIR
// Opens the page with the custodian's token, sees the protocol received with its automatic
// review and approves it with a reason (then writes OUT_DIR/protocol.approved, so the test runs
// the study under it); sees the held release with its exact aggregate, approves it with a
// reason, and sees both decisions in the verified audit log.
import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';

const [pageUrl, tokenFile, outDir] = process.argv.slice(2);
const token = readFileSync(tokenFile, 'utf8').trim();
const check = (condition, what) => { if (!condition) throw new Error(what); };

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(60000);
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(pageUrl)) outside.push(r.url()); });
  await page.goto(pageUrl);
  await page.fill('#token', token);
  await page.click('#sign-in-form button[type=submit]');
  const protocol = page.locator('#protocols fieldset.protocol').first();
  await protocol.waitFor();
  check((await protocol.locator('.flags').textContent()).includes('nothing flagged'),
        'the automatic review flagged nothing');
  check(JSON.parse(await protocol.locator('.definition').textContent()).protocol === 'GU-2026-01',
        'the protocol in full');
  await protocol.locator('.approve').click();
  check((await protocol.locator('.error').textContent()) === 'Give a reason.', 'a reason is required');
  await protocol.locator('[name=reason]').fill('ethics approval 2026-17');
  await protocol.locator('.approve').click();
  await protocol.locator('.decide').waitFor({ state: 'hidden' });
  check((await protocol.locator('.state').textContent()).startsWith('approved'), 'approved');
  writeFileSync(`${outDir}/protocol.approved`, 'wuhan\n');
  const held = page.locator('#held fieldset.held').first();
  await held.waitFor();
  const aggregate = JSON.parse(await held.locator('.aggregate').textContent());
  check(Array.isArray(aggregate.counts) && Array.isArray(aggregate.row_levels),
        `the exact aggregate: ${JSON.stringify(aggregate)}`);
  await held.locator('.approve').click();
  check((await held.locator('.error').textContent()) === 'Give a reason.', 'a reason is required');
  await held.locator('[name=reason]').fill('protocol GU-2026-01, table 1');
  await page.screenshot({ path: `${outDir}/custodian.png`, fullPage: true });
  await held.locator('.approve').click();
  await page.locator('#nothing').waitFor({ state: 'visible' });
  await page.locator('#audit tbody td', { hasText: 'protocol GU-2026-01, table 1' }).first().waitFor();
  await page.locator('#audit tbody td', { hasText: 'protocol_approved' }).first().waitFor();
  check((await page.locator('#verified').textContent()).startsWith('The chain is intact'), 'verified');
  await page.selectOption('#language', 'zh');
  check(await page.locator('[data-i18n=audit]').textContent() === '审计日志', 'Chinese labels');
  check(outside.length === 0, `requests outside the page's origin: ${outside.join(', ')}`);
  writeFileSync(`${outDir}/custodian.ok`, 'ok\n');
  console.log('custodian: ok');
} catch (error) {
  console.error(`custodian: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
