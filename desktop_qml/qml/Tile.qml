// One figure on the dashboard.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Frame {
    property string title
    property var value
    property string detail
    property bool good: true
    Layout.preferredWidth: 200
    ColumnLayout {
        Label { text: title; opacity: 0.7 }
        Label { objectName: parent.parent.objectName + "Value"; text: String(value); font.pixelSize: 24; font.bold: true; color: good ? palette.text : "#b00020" }
        Label { text: detail; opacity: 0.7; elide: Text.ElideRight; Layout.maximumWidth: 180 }
    }
}
