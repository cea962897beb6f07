"""`newsflow web` in a real headless Chromium (Debian's chromium, driven
through its chromium-driver by Selenium): what a reader sees and clicks.
Each test leaves a screenshot of its page in the module's output folder
(printed at its end; docs/img/web-*.png are copies)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SEED_TITLE = "Gleam: China must influence North Korea"
# The machine has no network: nothing of Chromium's own may try to reach one.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,1000",
]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("web-screenshots")
    yield folder
    print(f"\nscreenshots of newsflow web: {folder}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # The console, to see a Content-Security-Policy refusal or a failed load.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def site(web_demo, browser):
    """The browser, on a page of the served demo: ``site.open(path)``."""

    class Site:
        def open(self, path: str):
            browser.get(web_demo + path)
            return browser

    return Site()


def assert_no_console_errors(browser) -> None:
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def story_item(browser):
    from selenium.webdriver.common.by import By

    items = browser.find_elements(By.CSS_SELECTOR, "li.story")
    return next(item for item in items if item.find_element(By.CSS_SELECTOR, "a.title").text == SEED_TITLE)


def test_the_story_list_shows_the_seed_story_with_two_outlets(site, screenshots):
    from selenium.webdriver.common.by import By

    browser = site.open("/")
    item = story_item(browser)
    assert item.find_element(By.CSS_SELECTOR, ".outlets").text == "2 outlets"
    assert "Free press" in item.text and "The Daily Courier" in item.text
    # The stylesheet loaded (the policy allows newsflow's own): the header is coloured.
    header = browser.find_element(By.TAG_NAME, "header")
    assert header.value_of_css_property("background-color") == "rgba(23, 50, 77, 1)"
    browser.save_screenshot(str(screenshots / "stories.png"))
    assert_no_console_errors(browser)


def test_clicking_the_story_shows_both_articles(site, screenshots):
    from selenium.webdriver.common.by import By

    browser = site.open("/")
    story_item(browser).find_element(By.CSS_SELECTOR, "a.title").click()
    assert browser.current_url.split("/")[-2] == "stories"
    assert browser.find_element(By.TAG_NAME, "h1").text == SEED_TITLE
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.member")
    assert sorted(row.find_elements(By.TAG_NAME, "td")[0].text for row in rows) == ["Free press", "The Daily Courier"]
    assert "canonical" in rows[0].text
    assert "North Korea" in browser.find_element(By.CSS_SELECTOR, "article.text").text
    browser.save_screenshot(str(screenshots / "story.png"))
    assert_no_console_errors(browser)


def test_a_search_for_north_korea_finds_it(site, screenshots):
    from selenium.webdriver.common.by import By

    browser = site.open("/")
    box = browser.find_element(By.CSS_SELECTOR, "form.search input[name=q]")
    box.send_keys("North Korea")
    box.submit()
    titles = [hit.text for hit in browser.find_elements(By.CSS_SELECTOR, "li.hit .title")]
    assert SEED_TITLE in titles
    assert browser.find_elements(By.CSS_SELECTOR, "li.hit mark")  # the matched words, highlighted
    browser.save_screenshot(str(screenshots / "search.png"))
    assert_no_console_errors(browser)


def test_an_entity_page_draws_its_chart(site, screenshots):
    from selenium.webdriver.common.by import By

    browser = site.open("/entities?label=GPE")
    browser.find_element(By.LINK_TEXT, "North Korea").click()
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("North Korea")
    chart = browser.find_element(By.CSS_SELECTOR, "svg.chart")
    assert chart.size["width"] > 300 and chart.size["height"] > 100
    bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar")
    assert bars and max(bar.size["height"] for bar in bars) > 50  # drawn, not only declared
    assert SEED_TITLE in browser.find_element(By.CSS_SELECTOR, "table.entity-stories").text
    browser.save_screenshot(str(screenshots / "entity.png"))
    assert_no_console_errors(browser)


@pytest.mark.parametrize(("path", "name", "heading"), [
    ("/entities", "entities", "Entities"), ("/feeds", "feeds", "Feeds"), ("/runs", "runs", "Ingest runs"),
    ("/api/docs", "api-docs", "newsflow API"),
])
def test_the_other_pages(site, screenshots, path, name, heading):
    from selenium.webdriver.common.by import By

    browser = site.open(path)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(heading)
    browser.save_screenshot(str(screenshots / f"{name}.png"))
    assert_no_console_errors(browser)
