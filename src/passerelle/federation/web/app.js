// The hub's web UI: sign in with a token, see the sites and what they hold (datasets, versions,
// dictionaries: metadata only), build and submit a study, watch each site's progress round by
// round, read its results (the same SVG plots as the report), download JSON, CSV and the HTML
// report. Talks only to its own origin. Every label and message in English, Chinese and French.
import { translateMessage } from './messages.js';

const TEXT = {
  en: {
    signIn: 'Sign in', token: 'Token', signInButton: 'Sign in', signOut: 'Sign out',
    badToken: 'This token is not valid.', sites: 'Sites', site: 'Site', lastSeen: 'Last seen',
    never: 'never', newStudy: 'New study', title: 'Title', dataset: 'Dataset',
    protocol: 'Protocol (approved by the sites)',
    excludeRefusing: 'Leave out a site that refuses an analysis (the result says which)',
    addAnalysis: 'Add an analysis', submit: 'Run the study', studies: 'Studies',
    status: 'Status', id: 'Name', function: 'Analysis', formula: 'Formula', family: 'Family',
    rows: 'Rows', cols: 'Columns', subset: 'Records (R condition)', remove: 'Remove',
    downloadJson: 'Download JSON', downloadCsv: 'Download CSV',
    downloadReport: 'Download the report', running: 'Running at the sites…',
    done: 'Done', failed: 'Failed', ok: 'ok', refused: 'refused', notes: 'Notes',
    online: 'Online', state: 'State', datasets: 'Datasets', yes: 'online', no: 'offline',
    datasetLine: '{name}, version {version} ({dictionary}, {count} variables), imported {at}',
    noDataset: 'none', analysisOf: 'Analysis {index} of {of}: {id}', round: 'Round',
    pending: 'not yet asked', waiting: 'task waiting for the node', computing: 'computing',
    held: 'waiting for its custodian', answered: 'answered', analysesDone: 'Finished: {list}',
    roundTrip: '1 round trip to the sites, {seconds} s',
    roundTrips: '{rounds} round trips to the sites, {seconds} s',
    variables: 'Variables (all when empty)', ties: 'Ties', conf_type: 'Confidence interval',
    rho: 'rho (0: log-rank)', bin_days: 'Time grid (days)',
    reverse: 'A larger value, a shorter time (a risk score)',
  },
  zh: {
    signIn: '登录', token: '令牌', signInButton: '登录', signOut: '退出',
    badToken: '此令牌无效。', sites: '站点', site: '站点', lastSeen: '最近连接', never: '从未',
    newStudy: '新研究', title: '标题', dataset: '数据集', addAnalysis: '添加分析',
    protocol: '研究方案（经各站点批准）',
    excludeRefusing: '某站点拒绝某项分析时将其排除（结果会注明）',
    submit: '运行研究', studies: '研究', status: '状态', id: '名称', function: '分析',
    formula: '公式', family: '分布族', rows: '行', cols: '列', subset: '记录（R 条件）',
    remove: '删除', downloadJson: '下载 JSON', downloadCsv: '下载 CSV',
    downloadReport: '下载报告', running: '各站点正在计算…', done: '完成', failed: '失败',
    ok: '成功', refused: '被拒绝', notes: '说明',
    online: '在线', state: '状态', datasets: '数据集', yes: '在线', no: '离线',
    datasetLine: '{name}，版本 {version}（{dictionary}，{count} 个变量），导入于 {at}',
    noDataset: '无', analysisOf: '第 {index} 项分析，共 {of} 项：{id}', round: '轮次',
    pending: '尚未请求', waiting: '任务等待节点领取', computing: '计算中',
    held: '等待数据管理员', answered: '已应答', analysesDone: '已完成：{list}',
    roundTrip: '与各站点往返 1 次，{seconds} 秒',
    roundTrips: '与各站点往返 {rounds} 次，{seconds} 秒',
    variables: '变量（留空则全部）', ties: '结点处理', conf_type: '置信区间类型',
    rho: 'rho（0：对数秩检验）', bin_days: '时间网格（天）',
    reverse: '数值越大、生存时间越短（风险评分）',
  },
  fr: {
    signIn: 'Connexion', token: 'Jeton', signInButton: 'Se connecter', signOut: 'Se déconnecter',
    badToken: 'Ce jeton n’est pas valide.', sites: 'Sites', site: 'Site',
    lastSeen: 'Dernier contact', never: 'jamais', newStudy: 'Nouvelle étude', title: 'Titre',
    protocol: 'Protocole (approuvé par les sites)',
    excludeRefusing: 'Écarter un site qui refuse une analyse (le résultat le dit)',
    dataset: 'Jeu de données', addAnalysis: 'Ajouter une analyse', submit: 'Lancer l’étude',
    studies: 'Études', status: 'État', id: 'Nom', function: 'Analyse', formula: 'Formule',
    family: 'Famille', rows: 'Lignes', cols: 'Colonnes', subset: 'Enregistrements (condition R)',
    remove: 'Retirer', downloadJson: 'Télécharger le JSON', downloadCsv: 'Télécharger le CSV',
    downloadReport: 'Télécharger le rapport', running: 'Calcul en cours dans les sites…',
    done: 'Terminée', failed: 'Échec', ok: 'ok', refused: 'refusée', notes: 'Notes',
    online: 'En ligne', state: 'État', datasets: 'Jeux de données', yes: 'en ligne', no: 'hors ligne',
    datasetLine: '{name}, version {version} ({dictionary}, {count} variables), importé le {at}',
    noDataset: 'aucun', analysisOf: 'Analyse {index} sur {of} : {id}', round: 'Tour',
    pending: 'pas encore sollicité', waiting: 'tâche en attente du nœud', computing: 'calcul en cours',
    held: 'en attente de son responsable des données', answered: 'a répondu',
    analysesDone: 'Terminées : {list}',
    roundTrip: '1 aller-retour avec les sites, {seconds} s',
    roundTrips: '{rounds} allers-retours avec les sites, {seconds} s', variables: 'Variables (toutes si vide)',
    ties: 'Ex æquo', conf_type: 'Intervalle de confiance', rho: 'rho (0 : log-rank)',
    bin_days: 'Grille de temps (jours)',
    reverse: 'Valeur plus grande, temps plus court (un score de risque)',
  },
};

let language = localStorage.getItem('passerelle.language') || 'en';
let token = sessionStorage.getItem('passerelle.token') || '';
let current = null;  // the study shown: its document once done
let catalog = [];    // the sites as /v1/sites lists them, with their datasets

const $ = (id) => document.getElementById(id);
const t = (key, vars = {}) => ((TEXT[language] && TEXT[language][key]) || TEXT.en[key] || key)
  .replace(/\{(\w+)\}/g, (_, name) => (name in vars ? vars[name] : `{${name}}`));
const say = (message) => translateMessage(message, language);

// An element showing a server message in the page's language, the original as its title.
function messageElement(tag, message) {
  const el = document.createElement(tag);
  el.textContent = say(message);
  if (el.textContent !== message) el.title = message;
  return el;
}

function translate(root = document) {
  document.documentElement.lang = language === 'zh' ? 'zh-CN' : language;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  });
  const body = await response.text();
  let json = null;
  try { json = JSON.parse(body); } catch { /* HTML or empty */ }
  if (!response.ok) throw new Error((json && json.error) || `HTTP ${response.status}`);
  return json === null ? body : json;
}

function save(name, type, content) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([content], { type }));
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

async function signIn(event) {
  if (event) event.preventDefault();
  if (event) token = $('token').value.trim();
  try {
    await showSites();
    sessionStorage.setItem('passerelle.token', token);
    $('sign-in').hidden = true;
    $('workspace').hidden = false;
    $('sign-out').hidden = false;
    $('sign-in-error').textContent = '';
    await showStudies();
    offerVariables();
    kinds = await api('/v1/analyses');
    if (!$('analyses').children.length) addAnalysis();
  } catch (error) {
    token = '';
    sessionStorage.removeItem('passerelle.token');
    if (event) $('sign-in-error').textContent = t('badToken');
  }
}

async function showSites() {
  ({ sites: catalog } = await api('/v1/sites'));
  const body = $('sites').tBodies[0];
  body.replaceChildren();
  for (const s of catalog) {
    const row = body.insertRow();
    row.dataset.site = s.name;
    row.insertCell().textContent = s.name;
    const online = row.insertCell();
    online.textContent = t(s.online ? 'yes' : 'no');
    online.className = s.online ? 'online' : 'offline';
    row.insertCell().textContent = s.last_seen || t('never');
    const held = row.insertCell();
    if (!s.datasets.length) held.textContent = t('noDataset');
    for (const d of s.datasets) {
      // Each dataset's dictionary, folded: names, types, units and declared levels.
      const box = document.createElement('details');
      box.className = 'dataset';
      box.dataset.dataset = d.name;
      const summary = document.createElement('summary');
      summary.textContent = t('datasetLine', { name: d.name, version: d.version,
        dictionary: d.dictionary, count: d.variables.length, at: d.imported_at });
      const list = document.createElement('ul');
      for (const v of d.variables) {
        const item = document.createElement('li');
        item.textContent = `${v.name} — ${v.type}${v.unit ? ` (${v.unit})` : ''}` +
          (v.levels ? `: ${v.levels.join(', ')}` : '') + (v.description ? ` — ${v.description}` : '');
        list.append(item);
      }
      box.append(summary, list);
      held.append(box);
    }
  }
}

// The datasets the sites hold, and the variables of the chosen one as the sites' dictionaries
// declare them, offered while typing a formula.
function offerVariables() {
  const names = new Set();
  const variables = new Map();
  const chosen = $('study-dataset').value.trim();
  for (const s of catalog) {
    for (const d of s.datasets) {
      names.add(d.name);
      if (d.name !== chosen) continue;
      for (const v of d.variables) if (!variables.has(v.name)) variables.set(v.name, v);
    }
  }
  $('datasets').replaceChildren(...[...names].map((name) => new Option(name, name)));
  $('variables').replaceChildren(...[...variables.values()].map((v) => {
    const option = document.createElement('option');
    option.value = v.name;
    option.label = v.type + (v.levels && v.levels.length ? ': ' + v.levels.join(', ') : '');
    return option;
  }));
}

async function showStudies() {
  const { studies } = await api('/v1/studies');
  const body = $('studies').tBodies[0];
  body.replaceChildren();
  for (const s of studies) {
    const row = body.insertRow();
    row.insertCell().textContent = s.study;
    const link = document.createElement('a');
    link.href = `#study-${s.study}`;
    link.textContent = s.title;
    link.addEventListener('click', (e) => { e.preventDefault(); watch(s.study); });
    row.insertCell().append(link);
    row.insertCell().textContent = t(s.status === 'done' ? 'done' : s.status === 'failed' ? 'failed' : 'running');
  }
}

// The analyses the hub runs and their options (GET /v1/analyses): the form builds itself from them.
let kinds = [];

// The inputs of one option of an analysis, as the hub describes it.
function optionInput(option) {
  let input;
  if (option.choices.length) {
    input = document.createElement('select');
    if (!option.required) input.append(new Option('', ''));
    for (const choice of option.choices) input.append(new Option(choice, choice));
  } else {
    input = document.createElement('input');
    if (option.type === 'number') { input.type = 'number'; input.step = 'any'; }
    if (option.type === 'flag') input.type = 'checkbox';
    if (option.type === 'text' && option.name !== 'subset') input.setAttribute('list', 'variables');
    if (option.name === 'formula') input.size = 48;
  }
  input.name = option.name;
  input.title = option.help;
  if (option.required) input.required = true;
  const label = document.createElement('label');
  const name = document.createElement('span');
  name.dataset.i18n = option.name;
  label.append(name, ' ', input);
  return label;
}

function addAnalysis() {
  const row = $('analysis-row').content.firstElementChild.cloneNode(true);
  const count = $('analyses').children.length + 1;
  row.querySelector('[name=id]').value = `a${count}`;
  const fn = row.querySelector('[name=function]');
  for (const kind of kinds) {
    const choice = new Option(kind.name, kind.name);
    choice.title = kind.summary;
    fn.append(choice);
  }
  const refresh = () => {
    const kind = kinds.find((k) => k.name === fn.value);
    row.querySelector('.options').replaceChildren(...(kind ? kind.options.map(optionInput) : []));
    translate(row);
  };
  fn.addEventListener('change', refresh);
  row.querySelector('.remove').addEventListener('click', () => row.remove());
  refresh();
  $('analyses').append(row);
}

// An analysis of the form as the study file writes it: its kind's options that are filled in.
function analysisOf(row) {
  const get = (name) => row.querySelector(`[name=${name}]`).value.trim();
  const a = { id: get('id'), function: get('function') };
  const kind = kinds.find((k) => k.name === a.function);
  for (const option of kind ? kind.options : []) {
    if (option.type === 'flag') {
      if (row.querySelector(`[name=${option.name}]`).checked) a[option.name] = true;
      continue;
    }
    const value = get(option.name);
    if (!value) continue;
    if (option.type === 'number') a[option.name] = Number(value);
    else if (option.type === 'variables') a[option.name] = value.split(/[\s,]+/).filter(Boolean);
    else a[option.name] = value;
  }
  return a;
}

async function submitStudy(event) {
  event.preventDefault();
  const analyses = [...$('analyses').children].map(analysisOf);
  const study = { title: $('study-title').value.trim(), dataset: $('study-dataset').value.trim() };
  // Under a protocol, no analysis given runs all of the protocol's (docs/protocols.md).
  const protocol = $('study-protocol').value.trim();
  if (protocol) study.protocol = protocol;
  if ($('study-exclude').checked) study.on_refusal = 'exclude';
  if (analyses.length || !protocol) study.analyses = analyses;
  try {
    $('study-error').textContent = '';
    const { study: id } = await api('/v1/studies', { method: 'POST', body: JSON.stringify(study) });
    await showStudies();
    await watch(id);
  } catch (error) {
    $('study-error').textContent = say(error.message);
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Shows study `id`: while it runs, the analysis at work and each site's round and state in it
// (asked twice a second); then its results.
async function watch(id) {
  $('study').hidden = false;
  $('study-heading').textContent = `#${id}`;
  $('study-status').textContent = t('running');
  $('downloads').hidden = true;
  $('results').replaceChildren();
  current = null;
  for (;;) {
    const state = await api(`/v1/studies/${id}/progress`);
    if (state.status !== 'running') break;
    showProgress(state);
    await pause(500);
  }
  $('progress').hidden = true;
  const state = await api(`/v1/studies/${id}`);
  $('study-status').replaceChildren(t(state.status === 'done' ? 'done' : 'failed'));
  if (state.result && state.result.error) {
    $('study-status').append(' — ', messageElement('span', state.result.error));
  }
  if (state.status === 'done') show(state.result);
  await showStudies();
}

function showProgress(state) {
  $('study-status').textContent = t('running');
  if (!state.analysis) return;
  $('progress').hidden = false;
  $('progress-analysis').textContent =
    t('analysisOf', { index: state.index, of: state.of, id: state.analysis });
  $('progress-finished').textContent = state.finished.length
    ? t('analysesDone', { list: state.finished.map((a) => `${a.id} (${t(a.status)})`).join(', ') })
    : '';
  const body = $('progress-sites').tBodies[0];
  body.replaceChildren();
  for (const s of state.sites) {
    const row = body.insertRow();
    row.dataset.site = s.site;
    row.dataset.state = s.state;
    row.insertCell().textContent = s.site;
    row.insertCell().textContent = s.round;
    row.insertCell().textContent = t(s.state);
  }
}

function show(doc) {
  current = doc;
  $('downloads').hidden = false;
  $('study-heading').textContent = `#${doc.study} — ${doc.title}`;
  const out = $('results');
  out.replaceChildren();
  for (const [id, r] of Object.entries(doc.results)) {
    const section = document.createElement('section');
    section.className = `result ${r.status}`;
    section.dataset.analysis = id;
    const heading = document.createElement('h3');
    heading.textContent = `${id} — ${r.function}: ${t(r.status)}`;
    section.append(heading);
    if (r.rounds !== undefined) {
      const took = document.createElement('p');
      took.className = 'took';
      took.textContent = t(r.rounds === 1 ? 'roundTrip' : 'roundTrips',
                           { rounds: r.rounds, seconds: (r.seconds || 0).toFixed(2) });
      section.append(took);
    }
    if (r.svg) {
      const plot = document.createElement('div');
      plot.className = 'plot';
      // The hub's own SVG (drawn from numbers, labels escaped): parsed, not executed.
      const svg = new DOMParser().parseFromString(r.svg, 'image/svg+xml').documentElement;
      plot.append(document.importNode(svg, true));
      section.append(plot);
    }
    if (r.cells) {
      section.append(cellsTable(r.cells));
    } else if (r.text) {
      const pre = document.createElement('pre');
      pre.textContent = r.text;
      section.append(pre);
    }
    if (r.notes && r.notes.length) {
      const list = document.createElement('ul');
      list.className = 'notes';
      list.append(...r.notes.map((n) => messageElement('li', n)));
      section.append(list);
    }
    out.append(section);
  }
}

// The descriptive table ("Table 1"): a header row, then one row per line; levels indented.
function cellsTable(cells) {
  const table = document.createElement('table');
  table.className = 'cells';
  const head = table.createTHead().insertRow();
  for (const c of cells[0]) head.append(Object.assign(document.createElement('th'), { textContent: c }));
  const body = table.createTBody();
  for (const line of cells.slice(1)) {
    const row = body.insertRow();
    line.forEach((c, i) => {
      const cell = row.insertCell();
      cell.textContent = i === 0 ? c.trim() : c;
      if (i === 0 && c.startsWith('  ')) cell.className = 'level';
    });
  }
  return table;
}

// One row per coefficient (or count, or curve row) of every analysis.
function csv(doc) {
  const lines = ['analysis,what,name,value'];
  const q = (v) => `"${String(v).replaceAll('"', '""')}"`;
  for (const [id, r] of Object.entries(doc.results)) {
    const res = r.results || {};
    if (res.coef_names) {
      res.coef_names.forEach((n, i) => lines.push([q(id), q('coef'), q(n), res.coef[i]].join(',')));
    } else if (res.counts) {
      res.counts.forEach((c, i) => lines.push([q(id), q('count'), i, c === null ? '' : c].join(',')));
    } else if (res.strata) {
      for (const s of res.strata) {
        const table = s.table || {};
        (table.time || []).forEach((tm, i) => {
          if (table.pstate) {  // competing events: each cause's cumulative incidence
            res.states.forEach((state, k) => {
              if (k > 0) lines.push([q(id), q(`cuminc ${state} ${s.stratum}`), tm, table.pstate[k][i]].join(','));
            });
          } else {
            lines.push([q(id), q(`surv ${s.stratum}`), tm, table.surv[i]].join(','));
          }
        });
      }
    }
  }
  return lines.join('\n') + '\n';
}

document.addEventListener('DOMContentLoaded', () => {
  $('language').value = language;
  $('language').addEventListener('change', () => {
    language = $('language').value;
    localStorage.setItem('passerelle.language', language);
    translate();
    if (!$('workspace').hidden) showSites().catch(() => {});
    if (current) show(current);
  });
  translate();
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem('passerelle.token');
    location.reload();
  });
  $('add-analysis').addEventListener('click', addAnalysis);
  $('study-dataset').addEventListener('input', offerVariables);
  $('study-form').addEventListener('submit', submitStudy);
  $('download-json').addEventListener('click', () =>
    current && save(`study-${current.study}.json`, 'application/json', JSON.stringify(current, null, 2)));
  $('download-csv').addEventListener('click', () =>
    current && save(`study-${current.study}.csv`, 'text/csv', csv(current)));
  $('download-report').addEventListener('click', async () => {
    if (!current) return;
    save(`study-${current.study}.html`, 'text/html', await api(`/v1/studies/${current.study}/report`));
  });
  if (token) signIn();
});
