/** The dashboard's one stylesheet, served as a same-origin file (the CSP allows no inline style). */
export const CSS = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--mut:#5b6570;--line:#d8dde3;--acc:#0b5cad;--bad:#b3261e;--ok:#1b7f3b;--warn:#9a6700}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ed;--bg:#15181c;--mut:#9aa4ae;--line:#343a41;--acc:#6cb2ff;--bad:#ff8a80;--ok:#6fd38e;--warn:#e3b341}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--acc)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid var(--acc);outline-offset:2px}
header{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line)}
header strong{margin-right:.5rem}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem .9rem;list-style:none;margin:0;padding:0}
nav a[aria-current=page]{font-weight:600;text-decoration:none}
header form{margin-left:auto}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:.5rem;background:var(--bg);padding:.3rem}
form.inline{display:inline}
.fields{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end;margin:.5rem 0 1rem}
label{display:flex;flex-direction:column;font-size:.85rem;color:var(--mut);gap:.15rem}
label.check{flex-direction:row;align-items:center;gap:.3rem;color:var(--fg)}
input,select,button{font:inherit;padding:.35rem .5rem;border:1px solid var(--line);border-radius:4px;background:var(--bg);color:var(--fg);max-width:100%}
button{cursor:pointer;background:var(--acc);color:#fff;border-color:var(--acc)}
button.secondary{background:transparent;color:var(--acc)}
button.danger{background:var(--bad);border-color:var(--bad)}
.table{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--mut);font-weight:600}
code,pre,.mono{font-family:ui-monospace,monospace;font-size:.85rem;overflow-wrap:anywhere}
pre{white-space:pre-wrap;margin:0}
td pre{min-width:14rem}
td.mono{min-width:11rem}
details.more{flex-basis:100%}details.more .fields{margin:.5rem 0 0}
td time{white-space:nowrap}
.alert{border:1px solid var(--bad);color:var(--bad);padding:.5rem .75rem;border-radius:4px;margin:.5rem 0 1rem}
.notice{border:1px solid var(--ok);color:var(--ok);padding:.5rem .75rem;border-radius:4px;margin:.5rem 0 1rem}
.secret{border:2px solid var(--warn);padding:.75rem;border-radius:4px;margin:.5rem 0 1rem}
.muted{color:var(--mut)}
.pill{display:inline-block;padding:0 .4rem;border-radius:999px;border:1px solid var(--line);font-size:.8rem}
.pill.bad{border-color:var(--bad);color:var(--bad)}.pill.ok{border-color:var(--ok);color:var(--ok)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(10rem,1fr));gap:.75rem;margin-top:.75rem}
figure{margin:0;border:1px solid var(--line);border-radius:4px;padding:.5rem}
figcaption{font-size:.85rem;font-weight:600;display:flex;justify-content:space-between;gap:.5rem}
.apart figure{border-width:2px}
figure.ok svg.chart .line{stroke:var(--ok)}figure.ok svg.chart .area{fill:var(--ok)}
svg.chart{width:100%;height:auto;display:block}
svg.chart .line{fill:none;stroke:var(--acc);stroke-width:1.5}
svg.chart .area{fill:var(--acc);opacity:.12}
svg.chart .axis{stroke:var(--line)}
svg.chart text{fill:var(--mut);font-size:9px}
.apart{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
@media (max-width:40rem){main{padding:.6rem}header form{margin-left:0}
table.stack thead{display:none}table.stack tr{display:block;border-bottom:1px solid var(--line);padding:.4rem 0}
table.stack td{display:flex;gap:.5rem;border:0;padding:.1rem 0}table.stack td::before{content:attr(data-label);color:var(--mut);min-width:5.5rem;flex:none;font-size:.8rem}
table.stack td pre,table.stack td.mono{min-width:0}}
.signin{max-width:26rem;margin:4rem auto}
.signin label{margin-bottom:.75rem}
`;
