'use strict';
// HRSS web: 免责声明 → one-page form; once the child's 姓名, 证件类型 and 身份证号码 are in, 资格校验 runs and the
// relationship the registry gives is shown for 确认; after 确认 it is locked in 代办人与申请人关系.
Portal.init();
const $ = Portal.byId;
$('login-next').addEventListener('click', () => { if (Portal.login()) Portal.show('step-disclaimer'); });
$('disclaimer-ok').addEventListener('click', () => {
  if (!Portal.checked('disclaimer-agree')) { Portal.showError($('disclaimer-result'), null, '请阅读免责声明并勾选【我同意】'); return; }
  Portal.show('step-form');
});
let pending = null;
async function childTyped() {
  if (!Portal.value('applicant-name') || !Portal.value('applicant-id-number')) return;
  if (!Portal.checked('consent-data')) { Portal.showError($('eligibility-result'), null, '请勾选【访问授权】，以进行资格校验'); return; }
  $('form-rest').disabled = true;
  $('agent-relationship').value = '';
  $('relationship-label').textContent = '';
  const answer = await Portal.checkEligibility($('eligibility-result'));
  if (!answer) return;
  if (!answer.relationship) { Portal.showError($('eligibility-result'), null, '未能确认您与被代办人的关系'); return; }
  pending = answer.relationship;
  $('relationship-text').textContent = `您与被代办人的关系是${answer.relationship.label}，请确认。`;
  $('relationship-dialog').hidden = false;
}
for (const id of ['applicant-name', 'applicant-id-type', 'applicant-id-number', 'consent-data']) $(id).addEventListener('change', childTyped);
$('relationship-confirm').addEventListener('click', () => {
  $('relationship-dialog').hidden = true;
  $('agent-relationship').value = pending.code;
  $('relationship-label').textContent = pending.label + '（已确认，不允许修改）';
  $('form-rest').disabled = false;
});
$('submit').addEventListener('click', () => Portal.submit($('submit-result')));
