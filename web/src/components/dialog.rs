//! A modal dialog on the native `<dialog>` element (`showModal` makes the
//! rest of the page inert), plus what the platform leaves to us: Escape
//! goes through our `on_close` (so state stays the source of truth), Tab
//! cycles inside the dialog, and focus returns to where it was.

use wasm_bindgen::JsCast;
use web_sys::{HtmlDialogElement, HtmlElement};
use yew::prelude::*;

use crate::browser;

/// What can take focus inside the dialog.
const FOCUSABLE: &str = "a[href], button:not([disabled]), input:not([disabled]), \
                         select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

/// Properties of [`Dialog`].
#[derive(Properties, PartialEq)]
pub struct DialogProps {
    /// The heading, which also labels the dialog.
    pub title: AttrValue,
    /// Asked to close (Escape, or the close button).
    pub on_close: Callback<()>,
    /// `alertdialog` for destructive confirmations.
    #[prop_or_default]
    pub alert: bool,
    /// The body.
    #[prop_or_default]
    pub children: Html,
}

fn focusables(dialog: &HtmlDialogElement) -> Vec<HtmlElement> {
    let Ok(list) = dialog.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
        .collect()
}

/// A modal dialog; render it only while it is open.
#[function_component]
pub fn Dialog(props: &DialogProps) -> Html {
    let node = use_node_ref();
    {
        let node = node.clone();
        let on_close = props.on_close.clone();
        use_effect_with((), move |()| {
            let previous = browser::active_element();
            let dialog = node.cast::<HtmlDialogElement>();
            // The browser may also close a modal by itself (a close
            // request); route that through our state as well.
            let cancel = dialog.as_ref().map(|d| {
                gloo_events::EventListener::new(d, "cancel", move |e| {
                    e.prevent_default();
                    on_close.emit(());
                })
            });
            if let Some(d) = &dialog {
                let _ = d.show_modal();
                // Start on the first field, else the first button.
                let first = d
                    .query_selector("input, select, textarea")
                    .ok()
                    .flatten()
                    .and_then(|e| e.dyn_into::<HtmlElement>().ok())
                    .or_else(|| focusables(d).into_iter().next());
                if let Some(first) = first {
                    let _ = first.focus();
                }
            }
            move || {
                drop(cancel);
                if let Some(d) = dialog {
                    d.close();
                }
                if let Some(previous) = previous {
                    let _ = previous.focus();
                }
            }
        });
    }
    let onkeydown = {
        let node = node.clone();
        let on_close = props.on_close.clone();
        Callback::from(move |e: KeyboardEvent| {
            let Some(dialog) = node.cast::<HtmlDialogElement>() else {
                return;
            };
            match e.key().as_str() {
                "Escape" => {
                    e.prevent_default();
                    on_close.emit(());
                }
                "Tab" => {
                    let items = focusables(&dialog);
                    let (Some(first), Some(last)) = (items.first(), items.last()) else {
                        return;
                    };
                    let active = browser::active_element();
                    let wrap_to = if e.shift_key() && active.as_ref() == Some(first) {
                        Some(last)
                    } else if !e.shift_key() && active.as_ref() == Some(last) {
                        Some(first)
                    } else {
                        None
                    };
                    if let Some(target) = wrap_to {
                        e.prevent_default();
                        let _ = target.focus();
                    }
                }
                _ => {}
            }
        })
    };
    let close = {
        let on_close = props.on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };
    html! {
        <dialog ref={node} class="dialog" aria-labelledby="dialog-title"
                role={props.alert.then_some("alertdialog")} {onkeydown}>
            <div class="dialog__head">
                <h2 id="dialog-title" class="dialog__title">{ props.title.clone() }</h2>
                <button type="button" class="icon-button" aria-label="Close" onclick={close}>
                    <svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true">
                        <path d="M5 5l10 10M15 5L5 15" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>
                    </svg>
                </button>
            </div>
            { props.children.clone() }
        </dialog>
    }
}
