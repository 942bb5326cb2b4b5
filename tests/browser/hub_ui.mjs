// Drives the hub's web UI in Debian's Chromium with playwright-core, against a real hub and real
// nodes on 127.0.0.1 (started by tests/integration/browser_test.cc):
//   node tests/browser/hub_ui.mjs HUB_URL TOKEN_FILE OUT_DIR
// Signs in, sees the sites and their datasets, watches a study wait on lyon (whose node the test
// hangs until this script writes OUT_DIR/progress.seen), reads Table 1 and a refusal in three
// languages, builds and runs a study (Kaplan–Meier and Cox), sees the curves and the forest plot,
// switches to Chinese and French, downloads the report, and checks that no request leaves the
// hub's origin. Screenshots go to OUT_DIR. Exits 1 with the reason on failure.
import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';

const [hubUrl, tokenFile, outDir] = process.argv.slice(2);
const token = readFileSync(tokenFile, 'utf8').trim();
const origin = new URL(hubUrl).origin;

function check(condition, what) {
  if (!condition) throw new Error(what);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const outside = [];
try {
  // The hub's certificate comes from the consortium's own CA, which this browser does not know.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true,
                                             viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:')) outside.push(url);
  });

  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`console: ${m.text()}`); });
  await page.goto(hubUrl + '/');
  await page.locator('#sign-in h2', { hasText: 'Sign in' }).waitFor();
  await page.fill('#token', 'psr_not_a_token');
  await page.click('#sign-in-form button[type=submit]');
  await page.locator('#sign-in-error', { hasText: 'This token is not valid.' }).waitFor();

  await page.fill('#token', token);
  await page.click('#sign-in-form button[type=submit]');
  await page.locator('#workspace').waitFor({ state: 'visible' });
  const sites = await page.locator('#sites tbody td:first-child').allTextContents();
  check(sites.includes('wuhan') && sites.includes('lyon'), `the sites: ${sites}`);
  // What the sites hold, from their nodes: dataset, version, dictionary and its variables.
  const held = await page.locator('#sites tr[data-site=wuhan] details.dataset summary').textContent();
  check(held.startsWith('gu_cohort, version 1 (gu_cohort.v1, '), `wuhan's dataset: ${held}`);
  check(await page.locator('#sites tr[data-site=wuhan] td.online').count() === 1, 'wuhan online');
  await page.locator('#sites tr[data-site=lyon] details.dataset summary').click();
  await page.locator('#sites tr[data-site=lyon] details.dataset li', { hasText: /^organ — category: / }).waitFor();
  await page.locator('#sites tr[data-site=lyon] details.dataset summary').click();
  // Variable names offered from the sites' dictionaries.
  await page.locator('#variables option[value=os_days]').waitFor({ state: 'attached' });

  // A study that waits on lyon: the page shows the analysis and each site's round and state.
  await page.fill('#study-title', 'Table 1');
  const describe = page.locator('#analyses fieldset').nth(0);
  await describe.locator('[name=id]').fill('table1');
  await describe.locator('[name=function]').selectOption('describe');
  await describe.locator('[name=variables]').fill('age_dx, sex, organ');
  await page.click('#add-analysis');
  const ids = page.locator('#analyses fieldset').nth(1);
  await ids.locator('[name=id]').fill('ids');
  await ids.locator('[name=function]').selectOption('table');
  await ids.locator('[name=rows]').fill('patient_id');
  await page.click('#submit-study');
  const lyon = page.locator('#progress-sites tr[data-site=lyon]');
  await lyon.waitFor();
  // Pending until the hub has asked it (a busy machine may take a moment).
  await page.locator('#progress-sites tr[data-site=lyon]:is([data-state=waiting], [data-state=computing])')
    .waitFor({ timeout: 30000 }).catch(() => {});
  const state = await lyon.getAttribute('data-state');
  check(state === 'waiting' || state === 'computing', `lyon's state: ${state}`);
  check(await page.locator('#progress-analysis').textContent() === 'Analysis 1 of 2: table1', 'the analysis');
  // Every site of a round is asked at once: wuhan answers while lyon is held up.
  await page.locator('#progress-sites tr[data-site=wuhan] td:nth-child(3)', { hasText: 'answered' }).waitFor();
  await page.locator('#study').screenshot({ path: `${outDir}/progress.png` });
  await page.selectOption('#language', 'zh');
  await page.locator('#progress-sites tr[data-site=wuhan] td:nth-child(3)', { hasText: '已应答' }).waitFor();
  await page.selectOption('#language', 'en');
  writeFileSync(`${outDir}/progress.seen`, 'lyon\n');
  await page.locator('#study-status', { hasText: 'Done' }).waitFor({ timeout: 120000 });
  check(await page.locator('#progress').isHidden(), 'the progress goes once done');

  // Table 1 as a table, a column per site; the refusal said in the page's language.
  const columns = await page.locator('[data-analysis=table1] table.cells th').allTextContents();
  check(columns.join() === 'variable,lyon,wuhan,all,SMD', `Table 1's columns: ${columns}`);
  const lines = await page.locator('[data-analysis=table1] table.cells td:first-child').allTextContents();
  check(lines.includes('age_dx, mean (SD)') && lines.includes('organ') && !lines.includes('os_days'),
        `Table 1's variables: ${lines}`);
  const refusal = page.locator('[data-analysis=ids] .notes li');
  check(await refusal.textContent() ===
        'Site lyon refused: identifiers, free text and dates are never released as labels.',
        `the refusal: ${await refusal.textContent()}`);
  check((await refusal.getAttribute('title')).startsWith('site lyon: rule never_released'),
        'the original message');
  await page.selectOption('#language', 'fr');
  check(await refusal.textContent() === 'Le site lyon a refusé : identifiants, textes libres et ' +
        'dates ne sont jamais publiés comme libellés.', `French: ${await refusal.textContent()}`);
  await page.selectOption('#language', 'zh');
  check(await refusal.textContent() === '站点 lyon 拒绝：标识符、自由文本和日期从不作为标签发布。',
        `Chinese: ${await refusal.textContent()}`);
  await page.selectOption('#language', 'en');

  // Build the study: overall survival by sex (Kaplan–Meier), then a Cox model.
  await page.fill('#study-title', 'OS in the browser');
  const first = page.locator('#analyses fieldset').nth(0);
  await first.locator('[name=id]').fill('os_km');
  await first.locator('[name=function]').selectOption('survfit');
  await first.locator('[name=formula]').fill('Surv(os_days, os_event) ~ sex');
  const second = page.locator('#analyses fieldset').nth(1);
  await second.locator('[name=id]').fill('os_cox');
  await second.locator('[name=function]').selectOption('coxph');
  await second.locator('[name=formula]').fill('Surv(os_days, os_event) ~ age_dx + sex + strata(site)');
  await page.click('#submit-study');
  await page.locator('#study-heading', { hasText: 'OS in the browser' }).waitFor({ timeout: 120000 });
  await page.locator('#study-status', { hasText: 'Done' }).waitFor();

  const curves = await page.locator('[data-analysis=os_km] svg path.km-curve').count();
  check(curves === 2, `two Kaplan–Meier curves, got ${curves}`);
  check(await page.locator('[data-analysis=os_km] svg text.at-risk').count() > 0, 'numbers at risk');
  const rows = await page.locator('[data-analysis=os_cox] svg g.forest-row').count();
  check(rows === 2, `a forest plot of two hazard ratios, got ${rows}`);
  check((await page.locator('[data-analysis=os_cox] pre').textContent()).includes('age_dx'),
        'the Cox table');
  const took = await page.locator('[data-analysis=os_cox] p.took').textContent();
  check(/^\d+ round trips to the sites, \d+\.\d\d s$/.test(took), `the round trips, got "${took}"`);
  check((await page.locator('[data-analysis=os_km] p.took').textContent()).startsWith('1 round trip to'),
        'a curve takes one round trip');
  await page.screenshot({ path: `${outDir}/results.png`, fullPage: true });

  // Every label in Chinese, then French; the results stay.
  await page.selectOption('#language', 'zh');
  check(await page.locator('[data-i18n=sites]').textContent() === '站点', 'Chinese labels');
  check(await page.locator('#download-report').textContent() === '下载报告', 'Chinese buttons');
  check(await page.locator('[data-analysis=os_km] h3').textContent() === 'os_km — survfit: 成功',
        'Chinese status');
  check((await page.locator('[data-analysis=os_km] p.took').textContent()).startsWith('与各站点往返 1 次'),
        'Chinese round trips: a curve takes one');
  await page.selectOption('#language', 'fr');
  check(await page.locator('[data-i18n=newStudy]').textContent() === 'Nouvelle étude', 'French labels');
  await page.selectOption('#language', 'en');

  // The CSV: a row per coefficient and per curve row, each curve named by its group.
  const [csvFile] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
  await csvFile.saveAs(`${outDir}/study.csv`);
  const csvText = readFileSync(`${outDir}/study.csv`, 'utf8');
  check(csvText.startsWith('analysis,what,name,value\n') && csvText.includes('"os_cox","coef","age_dx",') &&
        csvText.includes('"os_km","surv sex=male",') && csvText.includes('"os_km","surv sex=female",'),
        `the CSV: ${csvText.slice(0, 300)}`);

  // The report, downloaded: one HTML file with both plots.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-report')]);
  const path = `${outDir}/report.html`;
  await download.saveAs(path);
  const html = readFileSync(path, 'utf8');
  check(html.startsWith('<!DOCTYPE html>') && html.includes('class="km-curve"') &&
        html.includes('class="forest-row"'), 'the downloaded report');
  const report = await context.newPage();
  await report.setContent(html);
  await report.screenshot({ path: `${outDir}/report.png`, fullPage: true });

  // The study is listed among past studies; opening it shows it again.
  await page.reload();
  await page.locator('#studies tbody a', { hasText: 'OS in the browser' }).click();
  await page.locator('#study-status', { hasText: 'Done' }).waitFor();
  check(await page.locator('[data-analysis=os_km] svg path.km-curve').count() === 2, 'a past study');

  check(outside.length === 0, `requests outside the hub's origin: ${outside.join(', ')}`);
  writeFileSync(`${outDir}/browser.ok`, 'ok\n');
  console.log('browser: ok');
} catch (error) {
  console.error(`browser: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
