/* The Upload tab: a picture of a digit from this device, sent as it is to POST dae/upload; the server
 * finds the digit in it (webapp/digits/) and answers with the 28 x 28 digit and a small preview, or says
 * what is wrong. One message style for every problem, the page's own.
 */
DAE.attachUpload = (element) => {
  const file = element.querySelector('#upload-file'), message = element.querySelector('#upload-message');
  const preview = element.querySelector('#upload-preview');
  const MAX = 10 * 1024 * 1024;
  const say = (text) => { message.textContent = text || ''; message.hidden = !text; };
  file.addEventListener('change', async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    preview.hidden = true; say('');
    if (chosen.size > MAX) {  // not sent at all: the server would refuse it too
      const text = `This file is ${(chosen.size / 1024 / 1024).toFixed(1)} MB; pictures up to 10 MB can be used.`;
      say(text); DAE.uploaded(null, text); return;
    }
    say('Reading the picture…');
    let answer;
    try {
      const response = await fetch(`dae/upload?session=${DAE.session}`, {method: 'POST', body: chosen,
                                                                         headers: {'Content-Type': 'application/octet-stream'}});
      answer = await response.json();
      if (!response.ok && !answer.error) answer = {error: `The server answered with an error (HTTP ${response.status}).`};
    } catch (e) {
      answer = {error: 'The server cannot be reached; try again.'};
    }
    if (answer.error) { say(answer.error); DAE.uploaded(null, answer.error); return; }
    say('');
    preview.src = answer.preview; preview.hidden = false;
    DAE.uploaded(answer.digit, null);
  });
};
