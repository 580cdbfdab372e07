'use strict';
// 民生一卡通: 免责声明 → 1 身份识别 (with 资格校验) → 2 基本信息 → 3 制卡信息 → 4 领卡方式.
Portal.init();
const $ = Portal.byId;
$('stepper').hidden = true;
$('login-next').addEventListener('click', () => { if (Portal.login()) Portal.show('step-disclaimer'); });
$('disclaimer-ok').addEventListener('click', () => {
  if (!Portal.checked('disclaimer-agree')) { Portal.showError($('disclaimer-result'), null, '请阅读并勾选【我已阅读并同意免责声明】'); return; }
  $('stepper').hidden = false;
  Portal.show('step-identity');
});
// Once the child's number is in, ask which ID types the child's age allows (户口簿 only under 16).
async function childTyped() {
  if (Portal.value('applicant-name') && Portal.value('applicant-id-number') && Portal.checked('consent-data')) {
    await Portal.checkEligibility($('eligibility-result'));
  }
}
for (const id of ['applicant-name', 'applicant-id-number', 'applicant-id-type', 'consent-data']) $(id).addEventListener('change', childTyped);
$('identity-next').addEventListener('click', async () => {
  const s = Portal.state.attachments;
  if (!s['agent.documents.id_front'] || !s['agent.documents.id_back']) { Portal.showError($('eligibility-result'), null, '请上传代办人身份证正、反面原件照片'); return; }
  if (!Portal.value('applicant-id-type')) { Portal.showError($('eligibility-result'), null, '请选择被代办人证件类型'); return; }
  const answer = await Portal.checkEligibility($('eligibility-result'));
  if (!answer) return;
  if (answer.relationship && Portal.value('agent-relationship') !== answer.relationship.code) {
    Portal.showError($('eligibility-result'), null, `所选“代办人与申请人关系”与户籍登记不一致（登记为${answer.relationship.label}），请重新选择`);
    return;
  }
  Portal.show('step-basic');
});
$('basic-next').addEventListener('click', () => Portal.show('step-card'));
$('card-next').addEventListener('click', () => Portal.show('step-pickup'));
$('submit').addEventListener('click', () => Portal.submit($('submit-result')));
