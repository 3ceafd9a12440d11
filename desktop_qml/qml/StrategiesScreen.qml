// Strategies inside the daemon: state, stage, position, P&L, orders, refusals, last error; Start / Stop.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    objectName: "strategiesScreen"
    spacing: 10

    Label { text: "Strategies"; font.pixelSize: 22; font.bold: true }
    Label { text: "Market data: " + backend.strategies.feed + (backend.strategies.stale ? " - stale: " + backend.strategies.stale : "") }

    Repeater {
        model: backend.strategies.rows
        delegate: RowLayout {
            Layout.fillWidth: true
            StatusBadge { text: model.state; good: model.state === "RUNNING"; Layout.preferredWidth: 90 }
            Label { text: model.name + " (" + model.cls + ", " + model.stage + ")"; font.bold: true; Layout.preferredWidth: 260 }
            Label { text: model.positions + "  P&L " + Number(model.pnl).toFixed(6) + "  orders " + model.orders; Layout.preferredWidth: 340 }
            Label { text: model.lastError || model.refused; color: model.lastError ? "#b00020" : "#555555"; elide: Text.ElideRight; Layout.fillWidth: true }
            Button { objectName: "start_" + model.name; text: "Start"; enabled: model.state !== "RUNNING"; onClicked: backend.strategies.start(model.name) }
            Button { objectName: "stop_" + model.name; text: "Stop"; enabled: model.state === "RUNNING"; onClicked: backend.strategies.stop(model.name) }
        }
    }

    RowLayout {
        Button { text: "Refresh"; onClicked: backend.strategies.refresh() }
        Label {
            objectName: "strategiesResult"
            text: backend.strategies.lastResult
            color: backend.strategies.lastOk ? "#1b5e20" : "#b00020"
        }
    }
    Item { Layout.fillHeight: true }
}
