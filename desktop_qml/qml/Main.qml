// The operators' main window: one screen at a time (backend.screen), a status strip, and the compact
// always-on-top overlay (backend.overlay).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ApplicationWindow {
    id: root
    objectName: "mainWindow"
    width: 1180
    height: 760
    visible: true
    title: "Core OEM " + clientVersion + " - " + (backend.connection.subject || "not connected")

    readonly property var screens: ["connection", "dashboard", "orders", "strategies", "checklist", "license", "settings"]
    readonly property var titles: ["Connection", "Dashboard", "Orders", "Strategies", "Pre-live checklist", "License", "Settings"]

    header: ToolBar {
        RowLayout {
            anchors.fill: parent
            spacing: 4
            Repeater {
                model: root.screens.length
                delegate: ToolButton {
                    objectName: "nav_" + root.screens[index]
                    text: root.titles[index]
                    checkable: true
                    checked: backend.screenIndex === index
                    onClicked: backend.showScreen(root.screens[index])
                }
            }
            Item { Layout.fillWidth: true }
            ToolButton {
                objectName: "overlayToggle"
                text: backend.overlay ? "Hide overlay" : "Overlay"
                checkable: true
                checked: backend.overlay
                onClicked: backend.setOverlay(!backend.overlay)
            }
        }
    }

    StackLayout {
        id: stack
        objectName: "screenStack"
        anchors.fill: parent
        anchors.margins: 12
        currentIndex: backend.screenIndex
        ConnectionScreen {}
        DashboardScreen {}
        OrdersScreen {}
        StrategiesScreen {}
        ChecklistScreen {}
        LicenseScreen {}
        SettingsScreen {}
    }

    footer: Frame {
        RowLayout {
            anchors.fill: parent
            StatusBadge {
                objectName: "footerConnection"
                text: backend.connection.state
                good: backend.connection.state === "connected"
            }
            Label { text: "mode " + (backend.dashboard.mode || "-") }
            StatusBadge {
                objectName: "footerRisk"
                text: backend.dashboard.riskState || "-"
                good: backend.dashboard.riskState === "ACTIVE"
            }
            Label { text: backend.connection.tlsVersion ? "channel " + backend.connection.tlsVersion : "" }
            Item { Layout.fillWidth: true }
            Label {
                text: backend.connection.message
                color: "#b00020"
                elide: Text.ElideRight
                Layout.maximumWidth: 620
            }
        }
    }

    TelemetryOverlay {
        objectName: "overlayWindow"
        visible: backend.overlay
        onClosing: backend.setOverlay(false)
    }
}
