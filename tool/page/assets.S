/*
 * assets.S - the HTML page's static parts (page.css, body.html, page.js;
 * and the live dashboard's ui.css, ui.html, ui.js, see at_api.c), kept
 * as real files beside this one, embedded in the autotrace tool at build
 * time, each as a NUL-terminated string (see at_render_html.c).  The
 * paths are relative to the top of the tree, where make runs; the
 * Makefile lists the files as prerequisites of this object.
 */
	.section .rodata
	.globl	at_page_css
	.hidden	at_page_css
	.type	at_page_css, @object
at_page_css:
	.incbin	"tool/page/page.css"
	.byte	0
	.size	at_page_css, . - at_page_css

	.globl	at_page_body
	.hidden	at_page_body
	.type	at_page_body, @object
at_page_body:
	.incbin	"tool/page/body.html"
	.byte	0
	.size	at_page_body, . - at_page_body

	.globl	at_page_js
	.hidden	at_page_js
	.type	at_page_js, @object
at_page_js:
	.incbin	"tool/page/page.js"
	.byte	0
	.size	at_page_js, . - at_page_js

	.globl	at_ui_css
	.hidden	at_ui_css
	.type	at_ui_css, @object
at_ui_css:
	.incbin	"tool/page/ui.css"
	.byte	0
	.size	at_ui_css, . - at_ui_css

	.globl	at_ui_html
	.hidden	at_ui_html
	.type	at_ui_html, @object
at_ui_html:
	.incbin	"tool/page/ui.html"
	.byte	0
	.size	at_ui_html, . - at_ui_html

	.globl	at_ui_js
	.hidden	at_ui_js
	.type	at_ui_js, @object
at_ui_js:
	.incbin	"tool/page/ui.js"
	.byte	0
	.size	at_ui_js, . - at_ui_js

	.section .note.GNU-stack,"",@progbits
