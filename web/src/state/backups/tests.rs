use prost_types::Timestamp;
use storeplane_proto::v1::StoreOperation;

use super::*;

fn store(phase: StorePhase, kind: Option<Kind>, etag: &str) -> Store {
    Store {
        name: "shop".into(),
        engine: "woocommerce".into(),
        phase: phase.into(),
        etag: etag.into(),
        operation: kind.map(|k| StoreOperation {
            kind: k.into(),
            backup_id: "b1".into(),
            start_time: None,
        }),
        ..Store::default()
    }
}

fn backup(id: &str, seconds: i64) -> Backup {
    Backup {
        id: id.into(),
        engine: "woocommerce".into(),
        create_time: Some(Timestamp { seconds, nanos: 0 }),
        ..Backup::default()
    }
}

fn run(actions: Vec<BackupsAction>) -> BackupsCard {
    (*actions
        .into_iter()
        .fold(Rc::new(BackupsCard::default()), |s, a| s.reduce(a)))
    .clone()
}

#[test]
fn sizes_read_in_binary_units_with_one_decimal_below_a_hundred() {
    assert_eq!(human_size(0), "0 B");
    assert_eq!(human_size(1023), "1023 B");
    assert_eq!(human_size(1024), "1.0 KiB");
    assert_eq!(human_size(1536), "1.5 KiB");
    assert_eq!(human_size(23_400_000), "22.3 MiB");
    assert_eq!(human_size(118 * 1024 * 1024), "118 MiB");
    assert_eq!(
        human_size(1024 * 1024 - 1),
        "1.0 MiB",
        "rounding moves up a unit"
    );
    assert_eq!(human_size(5 * 1024_i64.pow(4)), "5.0 TiB");
    assert_eq!(human_size(-3), "0 B");
}

#[test]
fn digests_and_ids_are_shortened_for_lists() {
    let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(short_digest(sha), "9f86d081884c");
    assert_eq!(short_digest("abc"), "abc");
    assert_eq!(short_id("3f2a9c1e-0b7d-4c55-a0e6-5d1b7a0f2c11"), "3f2a9c1e");
    assert_eq!(short_id(""), "");
}

#[test]
fn cron_needs_five_fields_of_cron_characters() {
    assert_eq!(cron_error("0 3 * * *"), None);
    assert_eq!(cron_error(" */15  1-5 1,15 JAN-MAR mon "), None);
    assert_eq!(
        cron_error("0 3 * *").as_deref(),
        Some("must have 5 fields (minute hour day-of-month month day-of-week), got 4")
    );
    assert!(cron_error("0 0 3 * * *").is_some_and(|e| e.ends_with("got 6")));
    assert!(cron_error("").is_some_and(|e| e.ends_with("got 0")));
    assert!(cron_error("0 3 * * $").is_some_and(|e| e.starts_with("field \"$\"")));
}

#[test]
fn retention_is_empty_for_the_default_or_1_to_100() {
    assert_eq!(parse_retention(""), Ok(0));
    assert_eq!(parse_retention(" 14 "), Ok(14));
    assert_eq!(parse_retention("100"), Ok(100));
    for bad in ["0", "101", "-1", "7.5", "seven"] {
        assert!(parse_retention(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn a_schedule_reads_as_a_sentence_with_the_default_retention() {
    let daily = BackupSchedule {
        cron: "0 3 * * *".into(),
        retention: 0,
    };
    assert_eq!(
        describe_schedule(&daily),
        "0 3 * * * (UTC), keeping the last 7 scheduled backups"
    );
    let one = BackupSchedule {
        retention: 1,
        ..daily.clone()
    };
    assert!(describe_schedule(&one).ends_with("the last 1 scheduled backup"));
    let mut s = store(StorePhase::Ready, None, "e1");
    assert_eq!(schedule_of(&s), None);
    s.backup_schedule = Some(BackupSchedule::default());
    assert_eq!(schedule_of(&s), None, "an empty cron is no schedule");
    s.backup_schedule = Some(daily.clone());
    assert_eq!(schedule_of(&s), Some(&daily));
}

#[test]
fn the_schedule_form_sends_a_normalised_cron_only_when_it_passes() {
    let form = ScheduleForm {
        cron: "  0  3 * * * ".into(),
        retention: "".into(),
        attempted: false,
    };
    assert_eq!(
        form.schedule(),
        Some(BackupSchedule {
            cron: "0 3 * * *".into(),
            retention: 0
        })
    );
    assert!(form.errors().is_empty());
    let bad = ScheduleForm {
        cron: "daily".into(),
        retention: "500".into(),
        attempted: true,
    };
    assert_eq!(bad.schedule(), None);
    assert_eq!(
        bad.errors().keys().copied().collect::<Vec<_>>(),
        ["cron", "retention"]
    );
    let filled = ScheduleForm::of(Some(&BackupSchedule {
        cron: "0 1 * * 0".into(),
        retention: 4,
    }));
    assert_eq!(
        (filled.cron.as_str(), filled.retention.as_str()),
        ("0 1 * * 0", "4")
    );
    assert_eq!(ScheduleForm::of(None), ScheduleForm::default());
}

#[test]
fn the_stores_operation_is_read_from_the_watch() {
    assert_eq!(operation(&store(StorePhase::Ready, None, "e")), None);
    let backing_up = store(StorePhase::Ready, Some(Kind::Backup), "e");
    assert_eq!(operation(&backing_up), Some(Operation::BackingUp));
    assert_eq!(
        operation(&backing_up).map(Operation::label),
        Some("Backing up…")
    );
    // A clone restores while it is still provisioning.
    let clone = store(StorePhase::Provisioning, Some(Kind::Restore), "e");
    assert_eq!(operation(&clone).map(Operation::slug), Some("restoring"));
    assert_eq!(
        operation(&store(StorePhase::Ready, Some(Kind::Unspecified), "e")),
        None
    );
}

#[test]
fn back_up_now_needs_a_ready_store_with_nothing_running() {
    assert_eq!(backup_blocked(&store(StorePhase::Ready, None, "e")), None);
    assert!(backup_blocked(&store(StorePhase::Ready, Some(Kind::Restore), "e")).is_some());
    assert!(backup_blocked(&store(StorePhase::Provisioning, None, "e")).is_some());
    assert!(backup_blocked(&store(StorePhase::Suspended, None, "e")).is_some());
}

#[test]
fn the_card_shows_only_when_the_engine_backs_up() {
    let engine = |ops: &[&str]| Engine {
        operations: ops.iter().map(|o| (*o).to_owned()).collect(),
        ..Engine::default()
    };
    assert!(engine_backs_up(Some(&engine(&[
        "suspend", BACKUP, RESTORE
    ]))));
    assert!(!engine_backs_up(Some(&engine(&["suspend", "resume"]))));
    assert!(!engine_backs_up(None));
}

#[test]
fn backups_list_newest_first() {
    let listed = newest_first(vec![backup("a", 10), backup("c", 30), backup("b", 20)]);
    let ids: Vec<&str> = listed.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["c", "b", "a"]);
    assert_eq!(
        phase_names(BackupPhase::Succeeded),
        ("succeeded", "Succeeded")
    );
    assert_eq!(trigger_label(BackupTrigger::PreUpgrade), "Before upgrade");
}

#[test]
fn a_clone_names_the_backup_and_leaves_engine_and_config_to_it() {
    let request = clone_request(&backup("b1", 1), " shop-copy ", "rid".into());
    assert_eq!(request.name, "shop-copy");
    assert_eq!(request.from_backup, "b1");
    assert_eq!(request.request_id, "rid");
    assert_eq!(request.engine, "", "the backup's engine");
    assert_eq!(request.config, None, "the backup's configuration");
    assert!(
        request.custom_domains.is_empty(),
        "domains are unique: never copied"
    );
}

#[test]
fn an_accepted_backup_reads_backing_up_until_the_watch_moves_the_store() {
    let card = run(vec![
        BackupsAction::Send(Request::Create),
        BackupsAction::Send(Request::Delete("b1".into())),
    ]);
    assert_eq!(
        card.in_flight,
        Some(Request::Create),
        "one request at a time"
    );
    let card = (*Rc::new(card).reduce(BackupsAction::Accepted { etag: "e1".into() })).clone();
    assert_eq!(card.in_flight, None);
    let shown = store(StorePhase::Ready, None, "e1");
    assert_eq!(card.under_way(&shown), Some(Operation::BackingUp));
    // The watch reports the operation, then its end.
    let running = store(StorePhase::Ready, Some(Kind::Backup), "e2");
    assert_eq!(card.under_way(&running), Some(Operation::BackingUp));
    let done = store(StorePhase::Ready, None, "e3");
    assert_eq!(card.under_way(&done), None);
}

#[test]
fn a_refusal_lands_next_to_the_request_it_refused_and_clears_on_retry() {
    let card = run(vec![
        BackupsAction::Send(Request::Restore("b1".into())),
        BackupsAction::Failed("store \"shop\" is not READY".into()),
    ]);
    assert_eq!(
        card.error(&Request::Restore("b1".into())),
        Some("store \"shop\" is not READY")
    );
    assert_eq!(card.error(&Request::Restore("b2".into())), None);
    assert_eq!(card.under_way(&store(StorePhase::Ready, None, "e")), None);
    let retried =
        (*Rc::new(card).reduce(BackupsAction::Send(Request::Restore("b1".into())))).clone();
    assert_eq!(retried.error(&Request::Restore("b1".into())), None);
}

#[test]
fn a_deleted_backup_refetches_the_list_and_a_saved_schedule_closes_the_editor() {
    let card = run(vec![
        BackupsAction::Send(Request::Delete("b1".into())),
        BackupsAction::Accepted { etag: "e".into() },
    ]);
    assert_eq!(card.revision, 1);
    assert_eq!(card.accepted, None);
    let card = run(vec![
        BackupsAction::Edit(None),
        BackupsAction::SetCron("0 3 * * *".into()),
        BackupsAction::SetRetention("3".into()),
        BackupsAction::Send(Request::Schedule),
        BackupsAction::SetCron("changed while saving".into()),
    ]);
    let form = card.editing.clone().unwrap_or_default();
    assert_eq!(
        (form.cron.as_str(), form.retention.as_str()),
        ("0 3 * * *", "3")
    );
    let saved = (*Rc::new(card).reduce(BackupsAction::Accepted { etag: "e".into() })).clone();
    assert_eq!(saved.editing, None);
}

#[test]
fn the_schedule_editor_shows_its_errors_once_save_is_pressed() {
    let card = run(vec![
        BackupsAction::Edit(None),
        BackupsAction::SetCron("0 3 *".into()),
        BackupsAction::Attempted,
    ]);
    assert!(card.editing.as_ref().is_some_and(|f| f.attempted));
    let edited = (*Rc::new(card).reduce(BackupsAction::SetCron("0 3 * * *".into()))).clone();
    assert!(edited.editing.as_ref().is_some_and(|f| !f.attempted));
    let closed = (*Rc::new(edited).reduce(BackupsAction::CancelEdit)).clone();
    assert_eq!(closed.editing, None);
}
