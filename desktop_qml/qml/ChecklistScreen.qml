// Pre-live checklist from the daemon; "Start live" stays disabled until every item passes.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    objectName: "checklistScreen"
    spacing: 10

    Label { text: "Pre-live checklist"; font.pixelSize: 22; font.bold: true }
    Label {
        text: backend.checklist.ready ? "Every requirement passes." : "Live stays locked until every requirement passes."
    }

    Repeater {
        model: backend.checklist.items
        delegate: RowLayout {
            Layout.fillWidth: true
            StatusBadge { text: model.ok ? "pass" : "fail"; good: model.ok; Layout.preferredWidth: 60 }
            Label { text: model.name; font.bold: true; Layout.preferredWidth: 160 }
            Label { text: model.detail; wrapMode: Text.Wrap; Layout.fillWidth: true }
        }
    }

    Label {
        objectName: "checklistMissing"
        text: backend.checklist.missing
        color: "#b00020"
        wrapMode: Text.Wrap
        Layout.fillWidth: true
        visible: text.length > 0
    }

    RowLayout {
        Button { text: "Refresh"; onClicked: backend.checklist.refresh() }
        Button {
            objectName: "startLiveButton"
            text: backend.checklist.liveActive ? "Live enabled" : "Start live"
            enabled: backend.checklist.canStartLive && !backend.checklist.liveActive
            onClicked: backend.checklist.startLive()
        }
        Label { text: backend.checklist.message }
    }
    Item { Layout.fillHeight: true }
}
