// First run and connection details: the profile (CA, client certificate, key, token), the certificate's
// subject and expiry (warning at 14 days), the live channel's TLS version as the daemon sees it, daemon mode.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ScrollView {
    id: scroll
    objectName: "connectionScreen"
    clip: true
    ColumnLayout {
        width: scroll.availableWidth
        spacing: 10

        Label { text: "Connection"; font.pixelSize: 22; font.bold: true }

        GridLayout {
            columns: 2
            columnSpacing: 16
            Label { text: "State" }
            StatusBadge {
                objectName: "connectionState"
                text: backend.connection.state + (backend.connection.attempt > 1 ? " (attempt " + backend.connection.attempt + ")" : "")
                good: backend.connection.state === "connected"
                warn: backend.connection.state === "connecting"
            }
            Label { text: "Daemon" }
            Label { objectName: "connectionTarget"; text: backend.connection.target }
            Label { text: "Operator" }
            Label { text: (backend.connection.subject || "-") + (backend.connection.roles ? "  (" + backend.connection.roles + ")" : "") }
            Label { text: "Client certificate" }
            Label {
                objectName: "certificateLine"
                text: backend.connection.certificate || "-"
                color: backend.connection.certificateWarning ? "#b26a00" : palette.text
                font.bold: backend.connection.certificateWarning
            }
            Label { text: "Channel" }
            StatusBadge {
                objectName: "tlsVersion"
                text: backend.connection.tlsVersion ? backend.connection.tlsVersion + " (as the daemon sees it)" : "-"
                good: backend.connection.tlsOk
            }
            Label { text: "Daemon mode" }
            Label { objectName: "daemonMode"; text: backend.connection.daemonMode || "-" }
            Label { text: "Profile" }
            Label { text: backend.connection.profilePath || "none stored yet" }
        }

        Label {
            objectName: "connectionMessage"
            text: backend.connection.message
            color: "#b00020"
            wrapMode: Text.Wrap
            Layout.fillWidth: true
            visible: text.length > 0
        }

        GroupBox {
            title: "Load a profile file"
            Layout.fillWidth: true
            RowLayout {
                anchors.fill: parent
                TextField { id: profileFile; objectName: "profileFile"; placeholderText: "/path/to/profile.json"; Layout.fillWidth: true }
                Button { text: "Load and connect"; onClicked: backend.connection.loadProfile(profileFile.text) }
            }
        }

        GroupBox {
            title: "Or name the files (first run)"
            Layout.fillWidth: true
            GridLayout {
                anchors.fill: parent
                columns: 2
                Label { text: "Daemon (host:port)" }
                TextField { id: target; text: "localhost:50051"; Layout.fillWidth: true }
                Label { text: "CA certificate" }
                TextField { id: caPath; placeholderText: "ca.pem"; Layout.fillWidth: true }
                Label { text: "Client certificate" }
                TextField { id: certPath; placeholderText: "operator.pem"; Layout.fillWidth: true }
                Label { text: "Client key" }
                TextField { id: keyPath; placeholderText: "operator.key"; Layout.fillWidth: true }
                Label { text: "Operator token" }
                TextField { id: tokenPath; placeholderText: "operator.token"; Layout.fillWidth: true }
                Item { width: 1 }
                Button {
                    text: "Save profile (0600) and connect"
                    onClicked: backend.connection.createProfile(target.text, caPath.text, certPath.text, keyPath.text, tokenPath.text)
                }
            }
        }
    }
}
