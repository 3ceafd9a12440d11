// The compact overlay: a small frameless window that stays on top of the trading view.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Window

Window {
    width: 300
    height: 170
    title: "Core OEM overlay"
    flags: Qt.Tool | Qt.WindowStaysOnTopHint | Qt.FramelessWindowHint
    color: "#e0202020"

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 8
        spacing: 2
        RowLayout {
            StatusBadge { objectName: "overlayRisk"; text: backend.dashboard.riskState || "-"; good: backend.dashboard.riskState === "ACTIVE" }
            Label { text: backend.dashboard.mode + (backend.dashboard.liveUnlocked ? " / live" : ""); color: "white" }
            Item { Layout.fillWidth: true }
            ToolButton { text: "x"; onClicked: backend.setOverlay(false) }
        }
        Label { color: "white"; text: "fill ratio " + (backend.dashboard.fillRatio * 100).toFixed(1) + " %  fills " + backend.dashboard.fillsPerSecond.toFixed(0) + "/s  rejects " + backend.dashboard.rejectsTotal }
        Repeater {
            model: backend.dashboard.latency
            delegate: Label { color: "white"; text: model.venue + " p50 " + model.p50_ms.toFixed(1) + " / p99 " + model.p99_ms.toFixed(1) + " ms" }
        }
        Label {
            color: "white"
            text: "license " + (backend.dashboard.licenseValid ? Math.floor(backend.dashboard.licenseDaysLeft) + " d" : "not valid") + (uiGuard.healthy ? "" : "  UI slow")
        }
    }
}
