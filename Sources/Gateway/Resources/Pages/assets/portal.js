// The reference portal pages' script: plain JavaScript, no build step, nothing from the network.
// Every call goes to this gateway's own /v1/ API on the page's session (an HttpOnly cookie the page
// load set, plus the X-Card-Portal header naming the channel): no API key ever reaches the browser.
// The pages only collect and show; the gateway (资格校验, the intake rules) decides.
'use strict';

const Portal = (() => {
  const channel = document.body.dataset.channel;
  const sessionHeader = document.body.dataset.sessionHeader;
  const prefixes = { hrss_web: 'web', jingtong: 'jt', minsheng: 'mins' };
  const state = {
    agent: null,          // the logged-in user (here: the demo login)
    eligibility: null,    // the last 资格校验 answer
    attachments: {},      // claim checks by path, e.g. "documents.photo"
    submissionId: null,   // one per page: a retry after an error is the same submission
    ticket: 0,            // the latest 资格校验 asked: an older answer arriving later is dropped
  };

  const byId = (id) => document.getElementById(id);
  const value = (id) => (byId(id) ? byId(id).value.trim() : '');
  const checked = (id) => Boolean(byId(id) && byId(id).checked);

  // MARK: - Calls

  async function api(method, path, body, extra) {
    const headers = Object.assign({ [sessionHeader]: channel }, extra || {});
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      if (body instanceof ArrayBuffer || body instanceof Blob) {
        init.body = body;
      } else {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      return { status: 0, json: { code: 'NETWORK', message: '网络连接失败，请稍后再试', reasons: [] }, headers: new Headers() };
    }
    let json = null;
    try { json = await response.json(); } catch (error) { json = null; }
    if (response.status === 401) {
      // The page's session ended (2 hours after the page was loaded, or the gateway restarted): a new page load opens one.
      json = { code: 'UNAUTHORIZED', message: '页面已过期，请刷新页面后重新办理', reasons: [] };
    }
    return { status: response.status, json, headers: response.headers };
  }

  /** Shows an error answer (`{code, message, reasons}`) in `element`, every reason on its own line. */
  function showError(element, answer, fallback) {
    if (!element) return;
    const body = (answer && answer.json) || {};
    const reasons = Array.isArray(body.reasons) ? body.reasons : [];
    element.hidden = false;
    element.className = 'notice error';
    element.dataset.codes = [body.code].concat(reasons.map((r) => r.code)).filter(Boolean).join(' ');
    element.textContent = '';
    const title = document.createElement('p');
    title.textContent = body.message || fallback || '操作未成功，请稍后再试';
    element.appendChild(title);
    if (reasons.length > 1 || (reasons.length === 1 && reasons[0].message !== body.message)) {
      const list = document.createElement('ul');
      for (const reason of reasons) {
        const item = document.createElement('li');
        item.textContent = reason.message;
        item.dataset.code = reason.code;
        list.appendChild(item);
      }
      element.appendChild(list);
    }
  }

  function showNotice(element, text) {
    if (!element) return;
    element.hidden = false;
    element.className = 'notice ok';
    element.dataset.codes = '';
    element.textContent = text;
  }

  function clear(element) {
    if (!element) return;
    element.hidden = true;
    element.textContent = '';
    element.dataset.codes = '';
  }

  // MARK: - Steps

  /** Shows the section `id` among the page's `[data-step]` sections and marks the stepper. */
  function show(id) {
    for (const section of document.querySelectorAll('[data-step]')) section.hidden = section.id !== id;
    for (const item of document.querySelectorAll('[data-stepper]')) {
      item.classList.toggle('current', item.dataset.stepper === id);
    }
    window.scrollTo(0, 0);
  }

  // MARK: - The logged-in user (a demo login stands in for the portal's 实名登录)

  function login() {
    const agent = {
      name: value('login-name'), id_type: 'resident_id', id_number: value('login-id-number'),
      gender: value('login-gender'), mobile: value('login-mobile'),
      id_valid_from: value('login-valid-from'), id_valid_to: value('login-valid-to') || 'long_term',
    };
    const missing = ['name', 'id_number', 'gender', 'mobile', 'id_valid_from'].filter((k) => !agent[k]);
    if (missing.length) {
      showError(byId('login-result'), null, '请填写代办人的全部登录信息');
      return false;
    }
    state.agent = agent;
    for (const element of document.querySelectorAll('[data-agent]')) {
      const key = element.dataset.agent;
      let text = agent[key] || '';
      if (key === 'id_number') text = maskID(text);
      if (key === 'mobile') text = text.length === 11 ? text.slice(0, 3) + '****' + text.slice(7) : text;
      if (key === 'gender') text = text === 'female' ? '女性' : '男性';
      if (key === 'name') text = text.length > 1 ? text[0] + '*'.repeat(text.length - 1) : text;
      element.textContent = text;
    }
    return true;
  }

  function maskID(number) {
    return number.length > 7 ? number.slice(0, 3) + '*****' + number.slice(-4) : number;
  }

  // MARK: - 资格校验

  /**
   * Asks POST /v1/eligibility about the child typed in; shows every reason when the child cannot apply.
   * Applies what the answer says the form must offer: the ID types allowed at the child's age, the default
   * photo (under 7), the household answers the registry holds, and the documents to ask for.
   * Returns the answer when eligible, else null (also when a newer question overtook this one).
   */
  async function checkEligibility(resultElement) {
    const ticket = ++state.ticket;
    clear(resultElement);
    if (!state.agent) return null;
    const question = {
      applicant: { name: value('applicant-name'), id_type: value('applicant-id-type') || 'resident_id', id_number: value('applicant-id-number') },
      agent: { id_number: state.agent.id_number },
      consents: { data_authorization: checked('consent-data') },
    };
    const answer = await api('POST', '/v1/eligibility', question);
    if (ticket !== state.ticket) return null;
    if (answer.status !== 200) {
      showError(resultElement, answer, '资格校验未完成');
      state.eligibility = null;
      return null;
    }
    const body = answer.json;
    state.eligibility = body;
    applyEligibility(body);
    if (!body.eligible) {
      showError(resultElement, { json: { code: 'NOT_ELIGIBLE', message: '资格校验未通过，暂不能申领：', reasons: body.reasons } });
      return null;
    }
    showNotice(resultElement, '资格校验通过，可以申领。');
    return body;
  }

  function applyEligibility(body) {
    const select = byId('applicant-id-type');
    if (select && Array.isArray(body.id_types_allowed)) {
      for (const option of select.options) {
        if (!option.value) continue;
        option.disabled = !body.id_types_allowed.includes(option.value);
      }
    }
    const photoRow = byId('default-photo-row');
    if (photoRow) {
      photoRow.hidden = !body.default_photo_allowed;
      if (!body.default_photo_allowed && byId('default-photo')) {
        byId('default-photo').checked = false;
        toggleDefaultPhoto();
      }
    }
    if (body.household) {
      if (byId('household-householder') && !value('household-householder')) byId('household-householder').value = String(body.household.agent_is_householder);
      if (byId('household-same-booklet') && !value('household-same-booklet')) byId('household-same-booklet').value = String(body.household.same_booklet);
    }
    // Birth date and sex as the number carries them (GB 11643): filled for the parent, still editable.
    const number = value('applicant-id-number');
    if (/^\d{17}[\dX]$/.test(number)) {
      if (byId('applicant-birth-date') && !value('applicant-birth-date')) {
        byId('applicant-birth-date').value = `${number.slice(6, 10)}-${number.slice(10, 12)}-${number.slice(12, 14)}`;
      }
      if (byId('applicant-gender') && !value('applicant-gender')) {
        byId('applicant-gender').value = Number(number[16]) % 2 === 1 ? 'male' : 'female';
      }
    }
    showDocuments();
  }

  // MARK: - Documents by ID type and household answers (the rules come from the server, DocumentRules)

  function documentRules() {
    const element = byId('document-rules');
    return element ? JSON.parse(element.textContent) : {};
  }

  function requiredDocuments() {
    const rules = documentRules();
    const idType = value('applicant-id-type') || 'resident_id';
    if (idType === 'resident_id') return rules.resident_id || [];
    const key = `${value('household-householder') || 'false'},${value('household-same-booklet') || 'false'}`;
    return (rules.household_register || {})[key] || [];
  }

  /** Shows the document rows the current ID type and answers require, and the optional ones of that type. */
  function showDocuments() {
    const idType = value('applicant-id-type') || 'resident_id';
    const required = requiredDocuments();
    for (const row of document.querySelectorAll('[data-doc-slot]')) {
      const slot = row.dataset.docSlot;
      const optionalFor = row.dataset.optionalFor;
      const needed = required.includes(slot);
      row.hidden = !(needed || optionalFor === idType);
      row.classList.toggle('required', needed);
    }
    for (const row of document.querySelectorAll('[data-household]')) row.hidden = idType !== 'household_register';
  }

  // MARK: - Claim-check uploads

  async function sha256Hex(buffer) {
    const digest = await crypto.subtle.digest('SHA-256', buffer);
    return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function dimensions(file) {
    try {
      const bitmap = await createImageBitmap(file);
      const size = { width: bitmap.width, height: bitmap.height };
      bitmap.close();
      return size;
    } catch (error) {
      return null;
    }
  }

  /**
   * The attachment the contract's submission carries for `file`: size, dimensions, media type and SHA-256
   * measured here; the bytes PUT to /v1/uploads/{sha256}, which checks digest, size and type and answers
   * the object's `uri` (s3://card-uploads/<channel>/<sha256>, the folder standing in for object storage).
   */
  async function claimCheck(file) {
    const buffer = await file.arrayBuffer();
    const sha256 = await sha256Hex(buffer);
    const size = await dimensions(file);
    if (!size) return { error: { json: { code: 'PHOTO_FORMAT_INVALID', message: '无法读取该图片，请选择JPEG或PNG图片', reasons: [] } } };
    const answer = await api('PUT', `/v1/uploads/${sha256}`, buffer, { 'Content-Type': file.type || 'application/octet-stream' });
    if (answer.status !== 200 && answer.status !== 201) return { error: answer };
    return {
      attachment: {
        uri: answer.json.uri, sha256: answer.json.sha256, bytes: answer.json.bytes,
        media_type: answer.json.media_type, width: size.width, height: size.height,
      },
    };
  }

  function bindUploads() {
    for (const input of document.querySelectorAll('input[type=file][data-slot]')) {
      input.addEventListener('change', async () => {
        const slot = input.dataset.slot;
        const status = input.parentElement.querySelector('.upload-status');
        delete state.attachments[slot];
        const file = input.files && input.files[0];
        if (!file) return;
        status.hidden = false;
        status.className = 'upload-status pending';
        status.textContent = '正在上传…';
        const result = await claimCheck(file);
        if (result.error) {
          showError(status, result.error, '上传未成功');
          status.classList.add('upload-status');
          return;
        }
        const a = result.attachment;
        state.attachments[slot] = a;
        status.className = 'upload-status done';
        status.dataset.sha256 = a.sha256;
        let text = `已上传：${a.width}×${a.height}，${(a.bytes / 1024).toFixed(1)} KB`;
        if (slot === 'documents.photo') {
          const min = Number(document.body.dataset.photoMinBytes), max = Number(document.body.dataset.photoMaxBytes);
          const w = Number(document.body.dataset.photoWidth), h = Number(document.body.dataset.photoHeight);
          if (a.width !== w || a.height !== h || a.bytes < min || a.bytes > max) {
            text += `（制卡照片须为${w}×${h}像素、20KB至8.75MB，提交时将被退回）`;
            status.className = 'upload-status warning';
          }
        }
        status.textContent = text;
      });
    }
    const defaultPhoto = byId('default-photo');
    if (defaultPhoto) defaultPhoto.addEventListener('change', toggleDefaultPhoto);
  }

  function toggleDefaultPhoto() {
    const photo = document.querySelector('input[data-slot="documents.photo"]');
    if (photo) photo.disabled = checked('default-photo');
  }

  // MARK: - 发卡行名称 → 办卡网点

  async function loadBranches() {
    const select = byId('card-branch');
    const bank = value('card-bank');
    const note = byId('branch-result');
    clear(note);
    select.textContent = '';
    select.appendChild(new Option('请选择', ''));
    if (!bank) return;
    const district = value('applicant-district');
    const query = `/v1/branches?bank=${encodeURIComponent(bank)}` + (district ? `&district=${encodeURIComponent(district)}` : '');
    const answer = await api('GET', query);
    if (answer.status !== 200) { showError(note, answer, '网点加载失败'); return; }
    for (const branch of answer.json.branches) {
      select.appendChild(new Option(`${branch.name}（${branch.address}）`, branch.branch));
    }
    if (answer.json.branches.length === 0) {
      showError(note, null, '该银行在所选区暂无可办理未成年人业务的网点，请更换银行或所在区');
    }
  }

  function bindBranches() {
    if (byId('card-bank')) byId('card-bank').addEventListener('change', loadBranches);
    if (byId('applicant-district')) byId('applicant-district').addEventListener('change', () => { if (value('card-bank')) loadBranches(); });
  }

  // MARK: - Submission

  function beijingNow() {
    const shifted = new Date(Date.now() + 8 * 3600 * 1000).toISOString();
    return shifted.slice(0, 19) + '+08:00';
  }

  function submissionId() {
    if (!state.submissionId) {
      const day = beijingNow().slice(0, 10).replaceAll('-', '');
      const random = Array.from(crypto.getRandomValues(new Uint8Array(6))).map((b) => b.toString(16).padStart(2, '0')).join('');
      state.submissionId = `${prefixes[channel] || channel}-${day}-${random}`;
    }
    return state.submissionId;
  }

  /** The contract's card.submission.v1 from the form; what is missing is left out, for intake's reasons. */
  function submissionBody() {
    const idType = value('applicant-id-type') || 'resident_id';
    const documents = {};
    const agentDocuments = {};
    for (const [path, attachment] of Object.entries(state.attachments)) {
      const [owner, , slot] = path.split('.');
      if (owner === 'agent') agentDocuments[slot] = attachment;
      else documents[path.split('.')[1]] = attachment;
    }
    if (checked('default-photo')) documents.photo = { default_photo: true };
    // Only the slots this ID type shows are sent: an upload left from another choice is not.
    for (const row of document.querySelectorAll('[data-doc-slot]')) {
      if (row.hidden) delete documents[row.dataset.docSlot];
    }
    const functions = [];
    if (!byId('card-function-social') || checked('card-function-social')) functions.push('social_security');
    if (!byId('card-function-medical') || checked('card-function-medical')) functions.push('medical_settlement');
    const body = {
      schema: 'card.submission.v1',
      submission_id: submissionId(),
      submitted_at: beijingNow(),
      consents: { disclaimer: checked('disclaimer-agree'), commitment: checked('commitment'), data_authorization: checked('consent-data') },
      agent: Object.assign({}, state.agent, { relationship: value('agent-relationship'), documents: agentDocuments }),
      applicant: {
        name: value('applicant-name'), id_type: idType, id_number: value('applicant-id-number'),
        id_valid_from: value('applicant-valid-from'), id_valid_to: value('applicant-valid-to') || 'long_term',
        gender: value('applicant-gender'), birth_date: value('applicant-birth-date'), nationality: 'CHN',
        ethnicity: value('applicant-ethnicity'), occupation: value('applicant-occupation'), district: value('applicant-district'),
        address: value('applicant-address'), mobile: value('applicant-mobile'),
      },
      documents,
      card: { bank: value('card-bank'), branch: value('card-branch'), pickup: 'agent_branch_pickup', functions },
    };
    if (value('applicant-landline')) body.applicant.landline = value('applicant-landline');
    if (idType === 'household_register') {
      body.household = { agent_is_householder: value('household-householder') === 'true', same_booklet: value('household-same-booklet') === 'true' };
    }
    return body;
  }

  /** POST /v1/submissions; 202 opens the status page, anything else shows every reason. */
  async function submit(resultElement) {
    clear(resultElement);
    if (!checked('commitment')) {
      showError(resultElement, null, '请阅读并勾选《第三代社会保障卡申领承诺》');
      return;
    }
    const button = byId('submit');
    if (button) button.disabled = true;
    const answer = await api('POST', '/v1/submissions', submissionBody());
    if (button) button.disabled = false;
    if (answer.status === 202) {
      window.location.assign(`/portal/${channel}/applications/${encodeURIComponent(answer.json.application_id)}`);
      return;
    }
    showError(resultElement, answer, '提交未成功');
  }

  // MARK: - Status page (long poll)

  async function followStatus(applicationID) {
    const labels = JSON.parse(byId('status-labels').textContent);
    let tag = null;
    for (;;) {
      const extra = tag ? { 'If-None-Match': tag } : {};
      const answer = await api('GET', `/v1/applications/${encodeURIComponent(applicationID)}${tag ? '?wait=25' : ''}`, undefined, extra);
      if (answer.status === 200) {
        tag = answer.headers.get('ETag');
        renderStatus(answer.json, labels);
      } else if (answer.status === 304) {
        continue;
      } else {
        showError(byId('status-result'), answer, '暂时无法查询申请状态');
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }
    }
  }

  function renderStatus(body, labels) {
    clear(byId('status-result'));
    const current = byId('status-current');
    current.dataset.status = body.status;
    current.textContent = labels[body.status] || body.status;
    const list = byId('status-history');
    list.textContent = '';
    // Each detail is told once, at the status that brought it (later statuses repeat it).
    const told = new Set();
    const once = (key, value, text) => {
      if (!value || told.has(key)) return '';
      told.add(key);
      return text;
    };
    for (const event of body.statuses) {
      const item = document.createElement('li');
      item.dataset.status = event.status;
      const when = (event.at || '').replace('T', ' ').slice(0, 19);
      let text = `${when}　${labels[event.status] || event.status}`;
      text += once('relationship', event.relationship_label, `（代办关系：${event.relationship_label}）`);
      text += once('branch', event.branch, `（办卡网点：${event.branch}）`);
      text += once('due', event.due_by, `（预计${(event.due_by || '').slice(0, 10)}前制卡完成）`);
      text += once('ecard', event.e_card, '（已同步生成电子社保卡）');
      item.textContent = text;
      if (Array.isArray(event.reasons) && event.reasons.length) {
        const reasons = document.createElement('ul');
        for (const reason of event.reasons) {
          const line = document.createElement('li');
          line.textContent = reason.message;
          line.dataset.code = reason.code;
          reasons.appendChild(line);
        }
        item.appendChild(reasons);
      }
      list.appendChild(item);
    }
  }

  function init() {
    bindUploads();
    bindBranches();
    const idType = byId('applicant-id-type');
    if (idType) idType.addEventListener('change', showDocuments);
    for (const id of ['household-householder', 'household-same-booklet']) {
      if (byId(id)) byId(id).addEventListener('change', showDocuments);
    }
    showDocuments();
  }

  return { state, byId, value, checked, api, show, login, checkEligibility, submit, followStatus, showError, showNotice, clear, init };
})();
