// Debian's chromium through playwright-core, headless, for the dashboard specs; and reading the
// page the way they do: by test id, polling until the text is what the spec waits for.
import { chromium, type Browser, type Page } from 'playwright-core'

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Polls the element's text until `ok` holds (the page refreshes every 2 s); throws with the last text. */
export async function waitForText(page: Page, testid: string, ok: (text: string) => boolean, timeoutMs = 6000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let text = ''
  while (Date.now() < deadline) {
    text =
      (await page
        .getByTestId(testid)
        .textContent({ timeout: timeoutMs })
        .catch(() => null)) ?? ''
    if (ok(text)) return text
    await page.waitForTimeout(100)
  }
  throw new Error(`${testid}: still "${text}" after ${timeoutMs} ms`)
}

/** A number as the page writes it ("12,345"). */
export const count = (text: string) => Number(text.replace(/,/g, ''))
