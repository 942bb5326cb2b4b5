// The custodian's page of a site node (127.0.0.1 only): the releases waiting for approval with
// the exact aggregate that would leave, approve or deny with a reason; the protocols received,
// each in full with its automatic review and changes, approve or reject with a reason; and the
// audit log with its verification. Talks only to the node that serves it.
import { translateMessage } from './messages.js';

const TEXT = {
  en: {
    heading: 'Passerelle — site custodian', token: 'Token', open: 'Open',
    tokenHelp: 'The token is in the site folder: custodian.token.', badToken: 'This token is not valid.',
    pending: 'Releases waiting for your decision', nothing: 'Nothing is waiting.',
    reason: 'Reason', approve: 'Approve', deny: 'Deny', needReason: 'Give a reason.',
    audit: 'Audit log', at: 'Time', kind: 'Entry', task: 'Task', study: 'Study',
    researcher: 'Researcher', detail: 'Detail', verified: 'The chain is intact', broken: 'The chain is broken',
    wouldRelease: 'Would release (SHA-256 {sha})', asked: '{what} for study {study}, researcher {who}, dataset {dataset} (version {version})',
    protocols: 'Protocols', noProtocols: 'No protocol received.', reject: 'Reject',
    protocolState: '{status} — from {who}, received {at}', noFlag: 'Automatic review: nothing flagged.',
    flag: 'Flag', change: 'Change', decided: 'by {by}: {reason}',
    pendingState: 'waiting for your decision', approvedState: 'approved', rejectedState: 'rejected',
    older: 'Older entries', newer: 'Newest entries', shown: 'Entries {from}–{to} of {last}',
  },
  zh: {
    heading: 'Passerelle — 数据管理员', token: '令牌', open: '打开',
    tokenHelp: '令牌在站点目录中：custodian.token。', badToken: '此令牌无效。',
    pending: '等待您决定的发布', nothing: '没有等待中的发布。', reason: '理由', approve: '批准',
    deny: '拒绝', needReason: '请填写理由。', audit: '审计日志', at: '时间', kind: '条目',
    task: '任务', study: '研究', researcher: '研究者', detail: '详情', verified: '哈希链完整',
    broken: '哈希链已损坏', wouldRelease: '将发布（SHA-256 {sha}）',
    asked: '{what}，研究 {study}，研究者 {who}，数据集 {dataset}（版本 {version}）',
    protocols: '研究方案', noProtocols: '尚未收到研究方案。', reject: '驳回',
    protocolState: '{status} — 提交者 {who}，收到于 {at}', noFlag: '自动审查：无标记。',
    flag: '标记', change: '变更', decided: '{by}：{reason}',
    pendingState: '等待您的决定', approvedState: '已批准', rejectedState: '已驳回',
    older: '更早的条目', newer: '最新的条目', shown: '第 {from}–{to} 条，共 {last} 条',
  },
  fr: {
    heading: 'Passerelle — responsable des données', token: 'Jeton', open: 'Ouvrir',
    tokenHelp: 'Le jeton est dans le dossier du site : custodian.token.', badToken: 'Ce jeton n’est pas valide.',
    pending: 'Diffusions en attente de votre décision', nothing: 'Rien n’est en attente.',
    reason: 'Motif', approve: 'Approuver', deny: 'Refuser', needReason: 'Indiquez un motif.',
    audit: 'Journal d’audit', at: 'Heure', kind: 'Entrée', task: 'Tâche', study: 'Étude',
    researcher: 'Chercheur', detail: 'Détail', verified: 'La chaîne est intacte', broken: 'La chaîne est rompue',
    wouldRelease: 'Diffuserait (SHA-256 {sha})', asked: '{what} pour l’étude {study}, chercheur {who}, jeu {dataset} (version {version})',
    protocols: 'Protocoles', noProtocols: 'Aucun protocole reçu.', reject: 'Rejeter',
    protocolState: '{status} — de {who}, reçu le {at}', noFlag: 'Revue automatique : rien à signaler.',
    flag: 'Signalement', change: 'Modification', decided: 'par {by} : {reason}',
    pendingState: 'en attente de votre décision', approvedState: 'approuvé', rejectedState: 'rejeté',
    older: 'Entrées plus anciennes', newer: 'Entrées les plus récentes', shown: 'Entrées {from} à {to} sur {last}',
  },
};
let language = localStorage.getItem('passerelle.language') || 'en';
let token = sessionStorage.getItem('passerelle.custodian') || '';
let auditBefore = null;  // the audit page shown: the newest (null), or the entries before this one
const $ = (id) => document.getElementById(id);
const t = (key, values = {}) => ((TEXT[language] || TEXT.en)[key] || TEXT.en[key] || key)
  .replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ''));

function translate(root = document) {
  document.documentElement.lang = language === 'zh' ? 'zh-CN' : language;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  });
  const json = await response.json();
  if (!response.ok) throw new Error(json.error || `HTTP ${response.status}`);
  return json;
}

// The box's approve and `refuse` buttons post {...what, approve, reason} to `path`; a reason
// is required.
function wireDecision(box, refuse, path, what) {
  for (const approve of [true, false]) {
    box.querySelector(approve ? '.approve' : refuse).addEventListener('click', async () => {
      const reason = box.querySelector('[name=reason]').value.trim();
      if (!reason) { box.querySelector('.error').textContent = t('needReason'); return; }
      try {
        await api(path, { method: 'POST', body: JSON.stringify({ ...what, approve, reason }) });
        await refresh();
      } catch (error) { box.querySelector('.error').textContent = error.message; }
    });
  }
}

async function refresh() {
  const held = await api('/api/pending');
  $('nothing').hidden = held.length > 0;
  $('held').replaceChildren(...held.map((r) => {
    const box = $('held-release').content.firstElementChild.cloneNode(true);
    box.dataset.task = r.task;
    box.querySelector('legend').textContent = `#${r.task}`;
    box.querySelector('.asked').textContent = t('asked', { what: r.asked, study: r.study,
      who: r.researcher, dataset: r.dataset, version: r.dataset_version }) + ' — ' +
      t('wouldRelease', { sha: r.sha256 });
    box.querySelector('.aggregate').textContent = JSON.stringify(r.would_release, null, 2);
    wireDecision(box, '.deny', '/api/decide', { task: r.task });
    translate(box);
    return box;
  }));
  const protocols = await api('/api/protocols');
  $('no-protocols').hidden = protocols.length > 0;
  $('protocols').replaceChildren(...protocols.map((p) => {
    const box = $('protocol').content.firstElementChild.cloneNode(true);
    box.dataset.protocol = p.protocol;
    box.querySelector('legend').textContent = `#${p.protocol} ${p.name} v${p.version}`;
    let state = t('protocolState', { status: t(`${p.status}State`), who: p.researcher, at: p.received_at });
    if (p.status !== 'pending') state += ` (${t('decided', { by: p.decided_by, reason: p.reason })})`;
    box.querySelector('.state').textContent = state;
    const item = (text) => { const li = document.createElement('li'); li.textContent = text; return li; };
    box.querySelector('.flags').replaceChildren(...(p.review.length
      ? p.review.map((f) => item(`${t('flag')} ${f.analysis} [${f.rule}]: ${f.flag}`))
      : [item(t('noFlag'))]));
    box.querySelector('.changes').replaceChildren(...p.changes.map((c) => item(`${t('change')}: ${c}`)));
    box.querySelector('.definition').textContent = JSON.stringify(p.definition, null, 2);
    box.querySelector('.decide').hidden = p.status !== 'pending';
    wireDecision(box, '.reject', '/api/protocol', { protocol: p.protocol });
    translate(box);
    return box;
  }));
  const audit = await api(auditBefore ? `/api/audit?before=${auditBefore}` : '/api/audit');
  const first = audit.entries.length ? audit.entries[0].seq : 0;
  $('older').hidden = first <= 1;
  $('older').onclick = () => { auditBefore = first; refresh(); };
  $('newer').hidden = auditBefore === null;
  $('newer').onclick = () => { auditBefore = null; refresh(); };
  $('shown').textContent = audit.entries.length
    ? t('shown', { from: first, to: audit.entries[audit.entries.length - 1].seq, last: audit.last }) : '';
  $('verified').textContent = `${audit.verified ? t('verified') : t('broken')}: ${audit.message}`;
  $('verified').className = audit.verified ? 'ok' : 'error';
  const body = $('audit').tBodies[0];
  body.replaceChildren();
  for (const e of audit.entries.slice().reverse()) {
    const row = body.insertRow();
    const detail = ['task', 'catalog', 'protocol'].includes(e.kind) ? e.detail.slice(0, 80)
      : e.digest ? `${e.detail} sha256 ${e.digest.slice(0, 16)}` : translateMessage(e.detail, language);
    for (const v of [e.seq, e.at, e.kind, e.task, e.study, e.researcher, detail]) row.insertCell().textContent = v;
    if (detail !== e.detail) row.cells[6].title = e.detail;
  }
}

async function open(event) {
  if (event) { event.preventDefault(); token = $('token').value.trim(); }
  try {
    await refresh();
    sessionStorage.setItem('passerelle.custodian', token);
    $('sign-in').hidden = true;
    $('workspace').hidden = false;
    setInterval(() => refresh().catch(() => {}), 3000);
  } catch {
    if (event) $('sign-in-error').textContent = t('badToken');
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('language').value = language;
  $('language').addEventListener('change', () => {
    language = $('language').value;
    localStorage.setItem('passerelle.language', language);
    translate();
    if (!$('workspace').hidden) refresh();
  });
  translate();
  $('sign-in-form').addEventListener('submit', open);
  if (token) open();
});
