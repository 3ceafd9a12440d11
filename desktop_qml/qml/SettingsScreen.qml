// Settings: reduce motion and the UI guard's figures (owned by the UI guard, docs/desktop.md "UI guard").
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    objectName: "settingsScreen"
    spacing: 10
    Label { text: "Settings"; font.pixelSize: 22; font.bold: true }
    Label { text: "Client " + clientVersion }

    Switch {
        objectName: "reduceMotionSwitch"
        text: "Reduce motion (no animations)"
        checked: uiGuard.reduceMotion
        onToggled: uiGuard.reduceMotion = checked
    }
    Button {
        objectName: "followPlatformMotion"
        text: "Follow the system setting"
        onClicked: uiGuard.followPlatformMotion()
    }

    Label { text: "UI guard"; font.pixelSize: 16; font.bold: true; Layout.topMargin: 12 }
    GridLayout {
        columns: 2
        columnSpacing: 16
        Label { text: "State" }
        StatusBadge {
            objectName: "uiGuardState"
            text: uiGuard.healthy ? "healthy" : "over threshold"
            good: uiGuard.healthy
        }
        Label { text: "Frames per second" }
        Label { objectName: "uiGuardFps"; text: uiGuard.fps.toFixed(1) }
        Label { text: "p95 frame time" }
        Label { text: uiGuard.p95Ms.toFixed(1) + " ms (alarm over " + uiGuard.p95LimitMs + " ms)" }
        Label { text: "Jank" }
        Label { text: uiGuard.jankPercent.toFixed(2) + " % (alarm over " + uiGuard.jankLimitPercent + " %)" }
        Label { text: "Window" }
        Label { text: uiGuard.windowSeconds + " s, " + uiGuard.framesTotal + " frames so far" }
        Label { text: "Alert log" }
        Label { text: uiGuard.logPath; elide: Text.ElideMiddle; Layout.maximumWidth: 640 }
    }
    Item { Layout.fillHeight: true }
}
