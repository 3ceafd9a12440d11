// A small coloured label for states (connected, ACTIVE, HALTED, pass/fail).
import QtQuick
import QtQuick.Controls

Label {
    property bool good: true
    property bool warn: false
    padding: 4
    leftPadding: 8
    rightPadding: 8
    color: "white"
    font.bold: true
    background: Rectangle {
        radius: 4
        color: parent.warn ? "#b26a00" : (parent.good ? "#2e7d32" : "#b00020")
        Behavior on color { enabled: uiGuard.animationsEnabled; ColorAnimation { duration: 200 } }
    }
}
