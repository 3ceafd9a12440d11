// Dashboard: latency p50/p99 per venue, fill ratio, rejects by reason, venue health and breakers, risk
// state, gate state with its deciding entry, license state and days left.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ScrollView {
    id: scroll
    objectName: "dashboardScreen"
    clip: true
    ColumnLayout {
        width: scroll.availableWidth
        spacing: 12

        Label { text: "Dashboard"; font.pixelSize: 22; font.bold: true }

        RowLayout {
            spacing: 12
            Tile { title: "Risk state"; value: backend.dashboard.riskState || "-"; good: backend.dashboard.riskState === "ACTIVE"; detail: backend.dashboard.riskReason; objectName: "tileRisk" }
            Tile { title: "Fill ratio"; value: (backend.dashboard.fillRatio * 100).toFixed(1) + " %"; detail: backend.dashboard.terminal + " orders done"; objectName: "tileFillRatio" }
            Tile { title: "Fills"; value: backend.dashboard.fills; detail: backend.dashboard.fillsPerSecond.toFixed(1) + " /s, " + backend.dashboard.openOrders + " open orders"; objectName: "tileFills" }
            Tile { title: "Rejects"; value: backend.dashboard.rejectsTotal; good: backend.dashboard.rejectsTotal === 0; objectName: "tileRejects" }
            Tile {
                objectName: "tileLicense"
                title: "License"
                value: backend.dashboard.licenseValid ? "valid" : "not valid"
                good: backend.dashboard.licenseValid
                detail: backend.dashboard.licenseDaysLeft >= 0 ? Math.floor(backend.dashboard.licenseDaysLeft) + " days left" : backend.dashboard.licenseSummary
            }
        }

        GroupBox {
            title: "Gate: " + (backend.dashboard.mode || "-") + (backend.dashboard.liveUnlocked ? " (live unlocked)" : " (live locked)")
            Layout.fillWidth: true
            ColumnLayout {
                anchors.fill: parent
                Label { objectName: "gateLine"; text: backend.dashboard.gateLine; wrapMode: Text.Wrap; Layout.fillWidth: true }
                Repeater {
                    model: backend.dashboard.gates
                    delegate: RowLayout {
                        StatusBadge { text: model.passed ? "pass" : "fail"; good: model.passed }
                        Label { text: model.name; font.bold: true }
                        Label { text: model.passed ? model.deciding : model.missing; elide: Text.ElideRight; Layout.maximumWidth: 860 }
                    }
                }
            }
        }

        RowLayout {
            spacing: 12
            Layout.fillWidth: true
            GroupBox {
                title: "Order latency per venue (ms)"
                Layout.fillWidth: true
                ColumnLayout {
                    anchors.fill: parent
                    Label { text: "no orders yet"; visible: backend.dashboard.latency.count === 0; opacity: 0.6 }
                    Repeater {
                        model: backend.dashboard.latency
                        delegate: Label { text: model.venue + "   p50 " + model.p50_ms.toFixed(2) + "   p99 " + model.p99_ms.toFixed(2) + "   (" + model.samples + ")" }
                    }
                }
            }
            GroupBox {
                title: "Rejects by reason"
                Layout.fillWidth: true
                ColumnLayout {
                    anchors.fill: parent
                    Label { text: "none"; visible: backend.dashboard.rejects.count === 0; opacity: 0.6 }
                    Repeater {
                        model: backend.dashboard.rejects
                        delegate: Label { text: model.reason + ": " + model.count }
                    }
                }
            }
            GroupBox {
                title: "Venues"
                Layout.fillWidth: true
                ColumnLayout {
                    anchors.fill: parent
                    Repeater {
                        model: backend.dashboard.venues
                        delegate: RowLayout {
                            StatusBadge { text: model.up ? "up" : "down"; good: model.up }
                            Label { text: model.name + "  breaker " + model.circuit }
                        }
                    }
                }
            }
        }
    }
}
