'use strict';
// 京通: 免责声明 → 资格校验 (name, ID type and number, 访问授权) → 代办人 → 申领人 → 制卡信息 → 提交.
Portal.init();
const $ = Portal.byId;
$('login-next').addEventListener('click', () => { if (Portal.login()) Portal.show('step-disclaimer'); });
$('disclaimer-ok').addEventListener('click', () => {
  if (!Portal.checked('disclaimer-agree')) { Portal.showError($('disclaimer-result'), null, '请阅读免责声明并勾选【我同意】'); return; }
  Portal.show('step-eligibility');
});
$('eligibility-check').addEventListener('click', async () => {
  if (!Portal.value('applicant-id-type')) { Portal.showError($('eligibility-result'), null, '请选择证件类型'); return; }
  const answer = await Portal.checkEligibility($('eligibility-result'));
  if (!answer) return;
  if (answer.relationship) {
    $('agent-relationship').value = answer.relationship.code;
    $('relationship-label').textContent = answer.relationship.label;
  }
  // The child's identity is fixed from here on: 资格校验 was for this child.
  for (const id of ['applicant-name', 'applicant-id-type', 'applicant-id-number']) $(id).disabled = true;
  Portal.show('step-agent');
});
$('agent-next').addEventListener('click', () => {
  const s = Portal.state.attachments;
  if (!s['agent.documents.id_front'] || !s['agent.documents.id_back']) { Portal.showError($('agent-result'), null, '请上传代办人公民身份证正、背面照片'); return; }
  Portal.show('step-applicant');
});
$('applicant-next').addEventListener('click', () => Portal.show('step-documents'));
$('submit').addEventListener('click', () => Portal.submit($('submit-result')));
