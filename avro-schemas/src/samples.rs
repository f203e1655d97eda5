//! One fully populated example of every record: for round-trip tests, benchmarks and docs.

use crate::{
    Date, EventId, Money, Timestamp, catalog::*, forecasting::*, inventory::*, pos::*,
    procurement::*, replenishment::*,
};

const T0: Timestamp = Timestamp(1_714_550_400_000_000); // 2024-05-01T08:00:00Z

fn id(n: &str) -> EventId {
    EventId::from_name(n)
}

fn money(s: &str) -> Money {
    s.parse().unwrap_or_default()
}

/// A POS receipt with `lines` lines (the last one a damaged return when lines > 1).
pub fn sale_completed(lines: usize) -> SaleCompleted {
    SaleCompleted {
        event_id: id("sale"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: Timestamp(T0.0 + 1_500),
        source: "pos:s1".into(),
        store_id: "s1".into(),
        register_id: "r3".into(),
        receipt_id: "R-000123".into(),
        currency: "EUR".into(),
        lines: (0..lines)
            .map(|i| {
                let ret = lines > 1 && i + 1 == lines;
                SaleLine {
                    line_number: i as i32 + 1,
                    item_id: format!("i{:04}", i * 7 + 1),
                    line_type: if ret {
                        SaleLineType::RETURN
                    } else {
                        SaleLineType::SALE
                    },
                    quantity: 1 + i as i64 % 3,
                    unit_price: money("2.49"),
                    discount: if i % 2 == 0 {
                        Money::ZERO
                    } else {
                        money("0.25")
                    },
                    return_condition: ret.then_some(ReturnCondition::DAMAGED),
                    reservation_id: (i == 0).then(|| "res-1".into()),
                }
            })
            .collect(),
        loyalty_id: Some("L-77".into()),
        channel: SalesChannel::CLICK_AND_COLLECT,
        attributes: Some(r#"{"basket":"weekend"}"#.into()),
    }
}

/// A two-line goods receipt.
pub fn purchase_order_received() -> PurchaseOrderReceived {
    PurchaseOrderReceived {
        event_id: id("gr"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "wms".into(),
        location_id: "dc1".into(),
        po_number: "PO-9".into(),
        receipt_id: "GR-1".into(),
        supplier_id: Some("sup1".into()),
        currency: "EUR".into(),
        lines: vec![
            ReceiptLine {
                line_number: 1,
                po_line_number: 1,
                item_id: "i1".into(),
                quantity: 24,
                unit_cost: money("1.1"),
                lot_number: Some("LOT-5".into()),
                expiry_date: Some(Date(19_900)),
            },
            ReceiptLine {
                line_number: 2,
                po_line_number: 2,
                item_id: "i2".into(),
                quantity: 6,
                unit_cost: money("-0.0001"),
                lot_number: None,
                expiry_date: None,
            },
        ],
        attributes: None,
    }
}

/// A damaged write-off.
pub fn inventory_adjusted() -> InventoryAdjusted {
    InventoryAdjusted {
        event_id: id("adj"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "handheld".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        adjustment_type: AdjustmentType::WRITE_OFF,
        quantity: 2,
        reason_code: "BREAKAGE".into(),
        write_off_source: Some(WriteOffSource::DAMAGED),
        reservation_id: Some("res".into()),
        order_ref: Some("ord".into()),
        unit_cost: Some(money("3")),
        note: Some("dropped".into()),
        attributes: Some("{}".into()),
    }
}

fn transfer_lines() -> Vec<TransferLine> {
    vec![TransferLine {
        line_number: 1,
        item_id: "i1".into(),
        quantity: 12,
    }]
}

/// A DC-to-store shipment.
pub fn transfer_shipped() -> TransferShipped {
    TransferShipped {
        event_id: id("ts"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "wms".into(),
        transfer_id: "TR-1".into(),
        from_location_id: "dc1".into(),
        to_location_id: "s1".into(),
        lines: transfer_lines(),
        attributes: None,
    }
}

/// The receipt of that shipment.
pub fn transfer_received() -> TransferReceived {
    TransferReceived {
        event_id: id("tr"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "pos:s1".into(),
        transfer_id: "TR-1".into(),
        from_location_id: "dc1".into(),
        to_location_id: "s1".into(),
        lines: transfer_lines(),
        attributes: None,
    }
}

/// A sale's ledger entry.
pub fn inventory_transaction_created() -> InventoryTransactionCreated {
    InventoryTransactionCreated {
        event_id: id("itc"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:ledger".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        ledger: LedgerKind::SSLE,
        transaction_type: TransactionType::SALE,
        source_event_id: id("sale"),
        source_line: 1,
        document_ref: Some("R-000123".into()),
        sequence: 42,
        actual_qty: -2,
        qty_after_transaction: -1,
        incoming_rate: Some(money("1.5")),
        valuation_rate: money("2.3349"),
        stock_value: money("-2.33"),
        stock_value_difference: money("-4.67"),
        superseded: false,
        negative_on_hand: true,
        unknown_item: false,
        unknown_location: true,
    }
}

/// A position update.
pub fn inventory_updated() -> InventoryUpdated {
    InventoryUpdated {
        event_id: id("iu"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:ledger".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        sequence: 7,
        on_hand: 14,
        on_order: 30,
        in_transit: 2,
        reserved: 1,
        damaged: 3,
        backordered: 4,
        available: 10,
        available_raw: 10,
        inventory_position: 41,
        valuation_rate: money("2.3349"),
        stock_value: money("32.69"),
        reorder_point: Some(10),
        negative_on_hand: false,
        unknown_item: true,
        unknown_location: false,
        last_source_event_id: id("sale"),
    }
}

/// A closed day of one item's sales.
pub fn daily_item_sales() -> DailyItemSales {
    DailyItemSales {
        event_id: id("daily"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:daily-sales".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        business_date: Date(19_845),
        units_sold: 7,
        units_returned: 1,
        receipts: 5,
        net_sales: money("61.50"),
        currency: "EUR".into(),
    }
}

/// A low-stock alert.
pub fn inventory_low_stock() -> InventoryLowStock {
    InventoryLowStock {
        event_id: id("ls"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:ledger".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        available: 9,
        inventory_position: 39,
        threshold: 10,
        threshold_kind: ThresholdKind::REORDER_POINT,
        source_event_id: id("sale"),
    }
}

fn points() -> Vec<ForecastPoint> {
    vec![
        ForecastPoint {
            date: Date(19_845),
            mean: 3.25,
            lower: Some(0.0),
            upper: Some(7.5),
        },
        ForecastPoint {
            date: Date(19_846),
            mean: 2.0,
            lower: None,
            upper: None,
        },
    ]
}

/// A two-day forecast.
pub fn forecast_generated() -> ForecastGenerated {
    ForecastGenerated {
        event_id: id("fg"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:forecast".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        forecast_id: id("f"),
        as_of_date: Date(19_844),
        model: ForecastModel::SBA,
        model_params: r#"{"alpha":0.1}"#.into(),
        demand_class: DemandClass::INTERMITTENT,
        interval_level: Some(95),
        points: points(),
        attributes: None,
    }
}

/// A forecast revision.
pub fn forecast_updated() -> ForecastUpdated {
    ForecastUpdated {
        event_id: id("fu"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:forecast".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        forecast_id: id("f"),
        as_of_date: Date(19_845),
        model: ForecastModel::HOLT_WINTERS,
        model_params: "{}".into(),
        demand_class: DemandClass::SMOOTH,
        interval_level: None,
        points: points(),
        revision: 2,
        reason: "NEW_ACTUALS".into(),
        attributes: Some("{}".into()),
    }
}

/// Features of a smooth seller after 91 days.
pub fn demand_features_updated() -> DemandFeaturesUpdated {
    DemandFeaturesUpdated {
        event_id: id("df"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:demand-features".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        as_of_date: Date(19_844),
        timezone: "Europe/Berlin".into(),
        demand: 4,
        censored: false,
        days_7: 7,
        sum_7: 28.0,
        mean_7: Some(4.0),
        std_7: Some(1.5),
        days_28: 27,
        sum_28: 100.0,
        mean_28: Some(3.75),
        std_28: Some(1.25),
        days_91: 80,
        sum_91: 300.0,
        mean_91: Some(3.75),
        std_91: None,
        zero_fraction_28: Some(0.0),
        ewma: Some(3.9),
        days_since_last_sale: Some(0),
        dow_profile: vec![1.0, 0.9, 0.8, 1.0, 1.1, 1.2, 1.0],
        adi: Some(1.0),
        cv2: Some(0.1),
        demand_class: DemandClass::SMOOTH,
        censored_days_91: 11,
        history_days: 91,
    }
}

/// Accuracy of a model next to its baseline.
pub fn forecast_accuracy_updated() -> ForecastAccuracyUpdated {
    ForecastAccuracyUpdated {
        event_id: id("fa"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:forecast".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        as_of_date: Date(19_844),
        model: ForecastModel::SES,
        demand_class: DemandClass::SMOOTH,
        window_days: 28,
        days: 27,
        actual: 110.0,
        mae: Some(1.5),
        rmse: Some(2.0),
        bias: Some(-0.25),
        wape: Some(0.35),
        mase: Some(0.8),
        rmsse: Some(0.9),
        baseline_mae: Some(2.5),
        baseline_rmse: Some(3.0),
        baseline_bias: Some(0.0),
        baseline_wape: None,
        baseline_mase: Some(1.1),
        baseline_rmsse: Some(1.2),
        mase_m: 7,
        mase_scale: Some(1.9),
        rmsse_scale: None,
    }
}

/// Two weeks of backfilled demand.
pub fn demand_history_seeded() -> DemandHistorySeeded {
    DemandHistorySeeded {
        event_id: id("dh"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:backfill".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        first_date: Date(19_831),
        as_of_date: Date(19_844),
        timezone: "Europe/Berlin".into(),
        demand: vec![3, 0, 2, 5, 1, 0, 0, 4, 2, 2, 0, 7, 1, 3],
        censored_dates: vec![Date(19_836)],
        last_sale_date: Some(Date(19_844)),
        sale_lines: 30,
    }
}

/// An (s,Q) order decision.
pub fn replenishment_triggered() -> ReplenishmentTriggered {
    ReplenishmentTriggered {
        event_id: id("rt"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:replenishment".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        supplier_id: "sup1".into(),
        policy: ReplenishmentPolicy::S_Q,
        inventory_position: 8,
        reorder_level: 12.4,
        order_up_to: None,
        safety_stock: 3.1,
        demand_per_day: 2.0,
        demand_std_per_day: 1.1,
        lead_time_days: 4.0,
        lead_time_std_days: 0.5,
        service_level: 0.95,
        order_quantity: 24,
        outcome: TriggerOutcome::ORDER,
        explanation: "IP 8 < s 12.4: order 1 x Q 24".into(),
        source_event_id: id("sale"),
        evaluated_on: "INVENTORY_UPDATED".into(),
        rule_source: "item-location".into(),
        demand_source: "FORECAST ses".into(),
        supplier_reason: "RULE_SUPPLIER".into(),
        position_before_open_orders: 8,
        open_order_quantity: 0,
        on_hand: 10,
        on_order: 0,
        in_transit: 0,
        reserved: 2,
        backordered: 0,
        damaged: 0,
        z: Some(1.5),
        protection_days: Some(4.0),
        review_period_days: None,
        lots: Some(1),
        raw_need: Some(24.0),
        quantity_after_moq: Some(24),
        quantity_after_pack: Some(24),
        capped: false,
        moq: 12,
        pack_size: 6,
        max_order_qty: None,
        unit_cost: Some(money("1.1")),
        order_value: Some(money("26.4")),
        po_number: Some("PO-s1-sup1-20260106".into()),
    }
}

fn po_lines() -> Vec<PurchaseOrderLine> {
    vec![PurchaseOrderLine {
        line_number: 1,
        item_id: "i1".into(),
        quantity: 24,
        unit_cost: money("1.1"),
    }]
}

/// A draft purchase order.
pub fn purchase_order_created() -> PurchaseOrderCreated {
    PurchaseOrderCreated {
        event_id: id("poc"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:replenishment".into(),
        location_id: "s1".into(),
        po_number: "PO-9".into(),
        supplier_id: "sup1".into(),
        currency: "EUR".into(),
        lines: po_lines(),
        status: PurchaseOrderStatus::DRAFT,
        total_value: money("26.4"),
        trigger_event_id: Some(id("rt")),
        expected_date: Some(Date(19_850)),
        attributes: None,
    }
}

/// The approval of that order.
pub fn purchase_order_approved() -> PurchaseOrderApproved {
    PurchaseOrderApproved {
        event_id: id("poa"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "api".into(),
        location_id: "s1".into(),
        po_number: "PO-9".into(),
        supplier_id: "sup1".into(),
        currency: "EUR".into(),
        lines: po_lines(),
        approved_by: "user:ann".into(),
        auto_approved: false,
        expected_date: None,
        attributes: None,
    }
}

/// A cancellation of one line.
pub fn purchase_order_cancelled() -> PurchaseOrderCancelled {
    PurchaseOrderCancelled {
        event_id: id("pox"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "api".into(),
        location_id: "s1".into(),
        po_number: "PO-9".into(),
        supplier_id: "sup1".into(),
        line_numbers: vec![1],
        cancelled_by: "user:ann".into(),
        reason: "supplier out of stock".into(),
        item_ids: vec!["i1".into()],
    }
}

/// An (R,S) rule.
pub fn replenishment_rule() -> ReplenishmentRule {
    ReplenishmentRule {
        event_id: id("rule"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "api".into(),
        location_id: "s1".into(),
        item_id: "i1".into(),
        supplier_id: "sup1".into(),
        policy: ReplenishmentPolicy::R_S,
        reorder_point: Some(10),
        order_quantity: Some(24),
        min_qty: None,
        max_qty: Some(40),
        service_level: 0.97,
        order_days: vec![Weekday::MON, Weekday::THU],
        rearm_margin: 5,
        alert_on_safety_stock: true,
        active: true,
        attributes: None,
    }
}

/// An item sold by weight.
pub fn item() -> Item {
    Item {
        event_id: id("item"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "pim".into(),
        item_id: "i1".into(),
        sku: "SKU-1".into(),
        name: "Apples".into(),
        category: Some("produce".into()),
        uom: UnitOfMeasure::KILOGRAM,
        uom_scale: 3,
        standard_cost: Some(money("1.05")),
        active: true,
        attributes: Some(r#"{"organic":true}"#.into()),
    }
}

/// A store.
pub fn location() -> Location {
    Location {
        event_id: id("loc"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "erp".into(),
        location_id: "s1".into(),
        name: "Store 1".into(),
        location_type: LocationType::STORE,
        timezone: "Europe/Berlin".into(),
        active: false,
        attributes: None,
    }
}

/// A supplier.
pub fn supplier() -> Supplier {
    Supplier {
        event_id: id("sup"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "erp".into(),
        supplier_id: "sup1".into(),
        name: "Fresh Farms".into(),
        contact_email: Some("orders@fresh.example".into()),
        contact_phone: Some("+49 30 1234".into()),
        currency: "EUR".into(),
        active: true,
        attributes: None,
    }
}

/// A supplier's terms for an item.
pub fn supplier_item() -> SupplierItem {
    SupplierItem {
        event_id: id("si"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "erp".into(),
        supplier_id: "sup1".into(),
        item_id: "i1".into(),
        lead_time_mean_days: 3.5,
        lead_time_std_days: 0.75,
        moq: 12,
        pack_size: 6,
        max_order_qty: Some(600),
        unit_cost: money("1.1"),
        currency: "EUR".into(),
        active: true,
        attributes: None,
        order_days: vec![Weekday::TUE, Weekday::FRI],
    }
}

/// A category's default rules: stores (s,S), warehouses (s,Q) from the cheapest supplier.
pub fn replenishment_default_rule() -> ReplenishmentDefaultRule {
    ReplenishmentDefaultRule {
        event_id: id("drule"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "api".into(),
        category: "dairy".into(),
        rules: vec![
            DefaultRule {
                location_type: LocationType::STORE,
                supplier_id: Some("sup1".into()),
                policy: ReplenishmentPolicy::S_S,
                order_quantity: Some(24),
                min_qty: None,
                max_qty: None,
                service_level: 0.95,
                order_days: vec![Weekday::FRI],
                active: true,
            },
            DefaultRule {
                location_type: LocationType::WAREHOUSE,
                supplier_id: None,
                policy: ReplenishmentPolicy::R_S,
                order_quantity: None,
                min_qty: None,
                max_qty: None,
                service_level: 0.98,
                order_days: vec![Weekday::MON],
                active: true,
            },
        ],
    }
}

/// A tenant's auto-approval rule.
pub fn auto_approval_rule() -> AutoApprovalRule {
    AutoApprovalRule {
        event_id: id("auto"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "api".into(),
        max_value: money("5000"),
        max_qty: 500,
        active: true,
    }
}

/// A planner's cancel of two lines.
pub fn purchase_order_command() -> PurchaseOrderCommand {
    PurchaseOrderCommand {
        event_id: id("cmd"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp-api".into(),
        location_id: "s1".into(),
        po_number: "PO-1".into(),
        action: PurchaseOrderAction::CANCEL,
        requested_by: "planner@t1".into(),
        reason: Some("supplier strike".into()),
        line_numbers: vec![1, 2],
        expected_status: Some(PurchaseOrderStatus::DRAFT),
    }
}

/// An approve that came after a cancel.
pub fn purchase_order_command_rejected() -> PurchaseOrderCommandRejected {
    PurchaseOrderCommandRejected {
        event_id: id("rej"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:replenishment".into(),
        location_id: "s1".into(),
        po_number: "PO-1".into(),
        command_id: id("cmd"),
        action: PurchaseOrderAction::APPROVE,
        requested_by: "planner@t1".into(),
        code: "ALREADY_CANCELLED".into(),
        detail: "PO-1 was cancelled before this approval".into(),
        status: Some(PurchaseOrderStatus::CANCELLED),
    }
}

/// A partial, over-received delivery.
pub fn purchase_order_status_changed() -> PurchaseOrderStatusChanged {
    PurchaseOrderStatusChanged {
        event_id: id("pos"),
        tenant_id: "t1".into(),
        occurred_at: T0,
        produced_at: T0,
        source: "composerp:replenishment".into(),
        location_id: "s1".into(),
        po_number: "PO-1".into(),
        supplier_id: "sup1".into(),
        status: PurchaseOrderStatus::PARTIALLY_RECEIVED,
        previous_status: Some(PurchaseOrderStatus::SENT),
        lines: vec![
            PurchaseOrderLineState {
                line_number: 1,
                item_id: "i1".into(),
                ordered: 24,
                received: 30,
                cancelled: false,
                over_received: true,
            },
            PurchaseOrderLineState {
                line_number: 2,
                item_id: "i2".into(),
                ordered: 12,
                received: 0,
                cancelled: false,
                over_received: false,
            },
        ],
        over_received: true,
        cause_event_id: id("receipt"),
        command_id: None,
        expected_date: Some(Date(20_460)),
    }
}
