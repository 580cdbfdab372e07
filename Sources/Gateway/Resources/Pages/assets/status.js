'use strict';
Portal.followStatus(document.getElementById('application-id').textContent);
