#!/usr/bin/env python3
"""Drives the gateway's reference portal pages in headless Chromium, one flow per channel, as a parent would.

    scripts/gateway_portal_flows.py --base http://127.0.0.1:PORT --scenario scenario.json [--screenshots DIR]

The gateway must run with --pages over a fleet (broker, the four workers, bank branches and registry records
for the scenario's families). For each channel of the scenario:

1. a child who already has an active application is stopped at 资格校验 (DUPLICATE_ACTIVE_APPLICATION shown,
   the flow does not go on);
2. another child's application is filled in through every step of that channel's flow (real clicks, real file
   choices: the page hashes and uploads each file and sends the claim checks), submitted, and the status page
   is followed until it shows in_production (制卡中).

scenario.json: {"channels": {"hrss_web": {"agent": {...}, "child": {...}, "blocked": {"agent": {...}, "child": {...}}}, ...}}
with agent {name, id_number, gender, mobile, valid_from} and child {name, id_number, id_type, valid_from, valid_to, age,
household?: {agent_is_householder, same_booklet}, default_photo?: bool}. The pages must offer 户口簿 under 16 only
(checked on 京通) and the default cartoon photo under 7 only (checked where a photo is uploaded).

Uses Debian's chromium and chromium-driver (/usr/bin/chromedriver) and python3 selenium (scripts/install-deps.sh);
nothing is downloaded. Waits are generous (a loaded 2-core machine); nothing is timed. Prints one JSON line per
channel ("flow: {...}") and a closing "N passed, M failed" line; exits 1 on any failure.
"""
import argparse
import json
import os
import random
import struct
import sys
import tempfile
import traceback
import zlib

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 60          # seconds for a page step (eligibility, upload, branch list)
PIPELINE_WAIT = 180  # seconds for an application to reach in_production


def png(path, width, height, noise_rows, seed):
    """Writes an RGB PNG: `noise_rows` rows of random pixels (so the file has a realistic size), the rest white."""
    rng = random.Random(seed)
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        if y < noise_rows:
            raw.extend(rng.getrandbits(8) for _ in range(width * 3))
        else:
            raw.extend(b"\xff" * (width * 3))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(bytes(raw), 6)))
        f.write(chunk(b"IEND", b""))
    return path


class Page:
    def __init__(self, driver, base, channel):
        self.d, self.base, self.channel = driver, base, channel

    def open(self, path=None):
        self.d.get(self.base + (path or f"/portal/{self.channel}"))
        self.wait(lambda d: d.execute_script("return typeof Portal === 'object'"), "the page's script")

    def wait(self, condition, what, timeout=WAIT):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.2).until(condition)
        except Exception as error:
            raise AssertionError(f"{self.channel}: waited {timeout} s for {what}: {self.notices()}") from error

    def el(self, element_id):
        return self.d.find_element(By.ID, element_id)

    def visible(self, element_id):
        return self.el(element_id).is_displayed()

    def click(self, element_id):
        element = self.el(element_id)
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def type(self, element_id, text):
        element = self.el(element_id)
        element.clear()
        element.send_keys(text)

    def set(self, element_id, value):
        """Sets a select or date as a person's choice would, firing `change` (dates differ by locale when typed)."""
        self.d.execute_script(
            "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
            "e.dispatchEvent(new Event('change', {bubbles: true}));", element_id, value)

    def choose_file(self, slot, path):
        element = self.d.find_element(By.CSS_SELECTOR, f'input[type=file][data-slot="{slot}"]')
        element.send_keys(path)
        self.wait(lambda d: "done" in element.find_element(By.XPATH, "following-sibling::em").get_attribute("class")
                  or "warning" in element.find_element(By.XPATH, "following-sibling::em").get_attribute("class"),
                  f"the upload of {slot}")

    def codes(self, element_id):
        return (self.el(element_id).get_attribute("data-codes") or "").split()

    def notices(self):
        try:
            return [n.text for n in self.d.find_elements(By.CSS_SELECTOR, ".notice.error") if n.is_displayed()]
        except Exception:
            return []

    def shot(self, directory, name):
        if directory:
            self.d.save_screenshot(os.path.join(directory, name))

    # MARK: - Steps every channel shares

    def login(self, agent):
        self.type("login-name", agent["name"])
        self.type("login-id-number", agent["id_number"])
        self.set("login-gender", agent["gender"])
        self.type("login-mobile", agent["mobile"])
        self.set("login-valid-from", agent["valid_from"])
        self.click("login-next")
        self.wait(lambda d: self.visible("step-disclaimer"), "免责声明")

    def disclaimer(self, next_step):
        self.click("disclaimer-agree")
        self.click("disclaimer-ok")
        self.wait(lambda d: self.visible(next_step), next_step)

    def details(self, child):
        self.set("applicant-valid-from", child["valid_from"])
        self.set("applicant-valid-to", child["valid_to"])
        self.set("applicant-ethnicity", "01")
        self.set("applicant-occupation", "student" if not child.get("default_photo") else "preschool")
        self.set("applicant-district", "110105")
        self.type("applicant-address", "北京市朝阳区永安里20号")
        self.type("applicant-mobile", "13412342458")

    def bank(self):
        self.set("card-bank", "BOB")
        self.wait(lambda d: len(self.el("card-branch").find_elements(By.TAG_NAME, "option")) > 1, "the 办卡网点 list")
        self.set("card-branch", "BOB-0105-01")

    def documents(self, child, files):
        if child.get("default_photo"):
            self.wait(lambda d: self.visible("default-photo-row"), "the default photo choice (under 7)")
            self.click("default-photo")
        else:
            # The default cartoon photo is offered under 7 only.
            assert child.get("age", 0) < 7 or not self.visible("default-photo-row"), "default photo offered at 7 or older"
            self.choose_file("documents.photo", files["photo"])
        for slot in required_slots(child):
            self.choose_file(f"documents.{slot}", files[slot])

    def submit_and_follow(self, screenshots):
        self.click("commitment")
        self.shot(screenshots, f"{self.channel}-form.png")
        self.click("submit")
        self.wait(lambda d: "/applications/" in d.current_url, "the status page after 提交")
        application_id = self.el("application-id").text
        self.wait(lambda d: self.el("status-current").get_attribute("data-status") in ("in_production", "rejected"),
                  "in_production on the status page", timeout=PIPELINE_WAIT)
        status = self.el("status-current").get_attribute("data-status")
        history = [li.get_attribute("data-status") for li in self.d.find_elements(By.CSS_SELECTOR, "#status-history > li")]
        self.shot(screenshots, f"{self.channel}-status.png")
        assert status == "in_production", f"{self.channel}: the application ended {status}: {self.el('status-history').text}"
        assert "制卡中" in self.el("status-current").text
        return application_id, history


# MARK: - The three flows

def hrss_web(page, case, files, screenshots, blocked):
    agent, child = case["agent"], case["child"]
    page.open()
    page.login(agent)
    page.disclaimer("step-form")
    page.type("applicant-name", child["name"])
    page.set("applicant-id-type", child["id_type"])
    page.type("applicant-id-number", child["id_number"])
    page.click("consent-data")  # 访问授权: with the three fields in, 资格校验 runs
    if blocked:
        page.wait(lambda d: "DUPLICATE_ACTIVE_APPLICATION" in page.codes("eligibility-result"), "DUPLICATE_ACTIVE_APPLICATION at 资格校验")
        assert not page.visible("relationship-dialog") and page.el("form-rest").get_attribute("disabled") is not None
        page.shot(screenshots, "hrss_web-blocked.png")
        return None
    page.wait(lambda d: page.visible("relationship-dialog"), "the relationship confirmation")
    text = page.el("relationship-text").text
    expected = case.get("relationship_label", "母子")
    assert text == f"您与被代办人的关系是{expected}，请确认。", text
    page.shot(screenshots, "hrss_web-relationship.png")
    page.click("relationship-confirm")
    relationship = page.el("agent-relationship")
    assert relationship.get_attribute("value") == "mother" and not relationship.is_enabled(), "relationship not locked after 确认"
    page.choose_file("agent.documents.id_front", files["agent_front"])
    page.choose_file("agent.documents.id_back", files["agent_back"])
    page.details(child)
    page.bank()
    page.documents(child, files)
    return page.submit_and_follow(screenshots)


def jingtong(page, case, files, screenshots, blocked):
    agent, child = case["agent"], case["child"]
    page.open()
    page.login(agent)
    page.disclaimer("step-eligibility")
    page.type("applicant-name", child["name"])
    page.set("applicant-id-type", child["id_type"])
    page.type("applicant-id-number", child["id_number"])
    page.click("consent-data")
    page.click("eligibility-check")  # 开始资格校验
    if blocked:
        page.wait(lambda d: "DUPLICATE_ACTIVE_APPLICATION" in page.codes("eligibility-result"), "DUPLICATE_ACTIVE_APPLICATION at 资格校验")
        assert page.visible("step-eligibility") and not page.visible("step-agent")
        page.shot(screenshots, "jingtong-blocked.png")
        return None
    page.wait(lambda d: page.visible("step-agent"), "代办人信息 after 资格校验")
    household_offered = not page.d.execute_script(
        "return document.querySelector('#applicant-id-type option[value=household_register]').disabled")
    assert household_offered == (child.get("age", 0) < 16), f"户口簿 offered: {household_offered} at age {child.get('age')}"
    page.choose_file("agent.documents.id_front", files["agent_front"])
    page.choose_file("agent.documents.id_back", files["agent_back"])
    page.click("agent-next")
    page.wait(lambda d: page.visible("step-applicant"), "申领人信息")
    assert page.el("agent-relationship").get_attribute("value") == "mother"
    if child["id_type"] == "household_register":
        page.set("household-householder", json.dumps(child["household"]["agent_is_householder"]))
        page.set("household-same-booklet", json.dumps(child["household"]["same_booklet"]))
    page.details(child)
    page.bank()
    page.click("applicant-next")
    page.wait(lambda d: page.visible("step-documents"), "制卡信息")
    page.documents(child, files)
    return page.submit_and_follow(screenshots)


def minsheng(page, case, files, screenshots, blocked):
    agent, child = case["agent"], case["child"]
    page.open()
    page.login(agent)
    page.disclaimer("step-identity")
    page.choose_file("agent.documents.id_front", files["agent_front"])
    page.choose_file("agent.documents.id_back", files["agent_back"])
    page.type("applicant-name", child["name"])
    page.type("applicant-id-number", child["id_number"])
    page.set("agent-relationship", "mother")
    page.click("consent-data")
    if not blocked:
        # 户口簿 is offered under 16 only: the page asks 资格校验 once the number is in.
        page.wait(lambda d: page.d.execute_script(
            "return !document.querySelector('#applicant-id-type option[value=household_register]').disabled"
            " && Portal.state.eligibility !== null"), "the ID types allowed at the child's age")
    page.set("applicant-id-type", child["id_type"])
    if child["id_type"] == "household_register":
        page.set("household-householder", json.dumps(child["household"]["agent_is_householder"]))
        page.set("household-same-booklet", json.dumps(child["household"]["same_booklet"]))
    page.click("identity-next")  # 确定，下一步 runs 资格校验
    if blocked:
        page.wait(lambda d: "DUPLICATE_ACTIVE_APPLICATION" in page.codes("eligibility-result"), "DUPLICATE_ACTIVE_APPLICATION at 资格校验")
        assert page.visible("step-identity") and not page.visible("step-basic")
        page.shot(screenshots, "minsheng-blocked.png")
        return None
    page.wait(lambda d: page.visible("step-basic"), "2 基本信息")
    page.details(child)
    # 基本信息 holds the documents by ID type and household answers; 制卡信息 holds the photo.
    for slot in required_slots(child):
        page.choose_file(f"documents.{slot}", files[slot])
    page.shot(screenshots, "minsheng-basic.png")
    page.click("basic-next")
    page.wait(lambda d: page.visible("step-card"), "3 制卡信息")
    if child.get("default_photo"):
        page.wait(lambda d: page.visible("default-photo-row"), "the default photo choice (under 7)")
        page.click("default-photo")
    else:
        page.choose_file("documents.photo", files["photo"])
    page.bank()
    page.click("card-next")
    page.wait(lambda d: page.visible("step-pickup"), "4 领卡方式")
    assert "30个自然日" in page.el("production-period").text
    return page.submit_and_follow(screenshots)


def required_slots(child):
    if child["id_type"] == "resident_id":
        return ["id_front", "id_back", "birth_certificate"]
    household = child["household"]
    slots = ["householder_page", "applicant_page"]
    if household["agent_is_householder"]:
        slots.append("householder_own_page")
    if not (household["agent_is_householder"] and household["same_booklet"]):
        slots.append("birth_certificate")
    return slots


FLOWS = {"hrss_web": hrss_web, "jingtong": jingtong, "minsheng": minsheng}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    scenario = json.load(open(args.scenario, encoding="utf-8"))
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)

    work = tempfile.mkdtemp(prefix="portal-flows-")
    files = {"photo": png(os.path.join(work, "photo.png"), 358, 441, 40, 1)}
    for n, slot in enumerate(["agent_front", "agent_back", "id_front", "id_back", "birth_certificate", "householder_page",
                              "applicant_page", "householder_own_page"]):
        files[slot] = png(os.path.join(work, f"{slot}.png"), 480, 300, 12, n + 2)

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--lang=zh-CN", f"--user-data-dir={os.path.join(work, 'profile')}"]:
        options.add_argument(flag)
    passed = failed = 0
    driver = webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=options)
    try:
        driver.set_page_load_timeout(WAIT)
        for channel, case in scenario["channels"].items():
            mobile = channel != "hrss_web"
            driver.set_window_size(480 if mobile else 1100, 1500 if mobile else 1700)
            page = Page(driver, args.base, channel)
            result = {"channel": channel}
            try:
                FLOWS[channel](page, case["blocked"], files, args.screenshots, blocked=True)
                result["blocked_at_eligibility"] = True
                driver.delete_all_cookies()
                application_id, history = FLOWS[channel](page, case, files, args.screenshots, blocked=False)
                result.update(application_id=application_id, statuses=history, status="in_production")
                passed += 1
            except Exception as error:
                failed += 1
                result["error"] = f"{type(error).__name__}: {error}"
                traceback.print_exc()
                page.shot(work, f"{channel}-failure.png")
                print(f"failure screenshot: {os.path.join(work, channel + '-failure.png')}", file=sys.stderr)
            print("flow: " + json.dumps(result, ensure_ascii=False), flush=True)
    finally:
        driver.quit()
    print(f"portal flows: {passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
