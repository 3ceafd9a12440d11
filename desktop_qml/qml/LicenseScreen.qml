// License activation, offline: this device's request as a QR code (save it to a folder or USB stick),
// import a license from a file, a USB stick or a QR image; one-line verdict; installed on success.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ScrollView {
    id: scroll
    objectName: "licenseScreen"
    clip: true
    ColumnLayout {
        width: scroll.availableWidth
        spacing: 10

        Label { text: "License activation"; font.pixelSize: 22; font.bold: true }
        Label {
            objectName: "licenseResult"
            text: backend.license.result || (backend.dashboard.licenseSummary ? "daemon: " + backend.dashboard.licenseSummary : "")
            color: backend.license.result && !backend.license.resultOk ? "#b00020" : palette.text
            font.bold: true
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }

        Label {
            objectName: "licenseInstalled"
            text: "installed: " + backend.license.installedStatus
            color: backend.license.installedOk ? palette.text : "#b00020"
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }
        Label {
            objectName: "licenseDevelopmentKeys"
            visible: backend.license.developmentKeys
            text: "Development license keys are allowed here (OEM_ALLOW_DEVELOPMENT_LICENSES=true): not for production"
            color: "#b00020"
            font.bold: true
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }

        GroupBox {
            title: "This device's request"
            Layout.fillWidth: true
            RowLayout {
                anchors.fill: parent
                Image {
                    objectName: "requestQr"
                    source: backend.license.requestQrUrl
                    visible: source != ""
                    Layout.preferredWidth: 220
                    Layout.preferredHeight: 220
                    fillMode: Image.PreserveAspectFit
                    smooth: false
                }
                ColumnLayout {
                    Button { text: "Show request"; onClicked: backend.license.makeRequest() }
                    Label { text: backend.license.requestDigest; font.family: "monospace" }
                    RowLayout {
                        TextField { id: saveDir; objectName: "requestSaveDir"; placeholderText: "folder or USB mount"; Layout.preferredWidth: 300 }
                        Button { text: "Save request"; onClicked: backend.license.saveRequest(saveDir.text) }
                    }
                    Label { text: backend.license.requestSaved; wrapMode: Text.Wrap; Layout.maximumWidth: 600 }
                }
            }
        }

        GroupBox {
            title: "Import a license"
            Layout.fillWidth: true
            ColumnLayout {
                anchors.fill: parent
                RowLayout {
                    TextField { id: licenseFile; objectName: "licenseFile"; placeholderText: "license.json or a QR image (.png)"; Layout.preferredWidth: 420 }
                    Button { text: "Import file"; onClicked: backend.license.importFile(licenseFile.text) }
                    Button { text: "Import QR image"; onClicked: backend.license.importQr(licenseFile.text) }
                }
                RowLayout {
                    Label { text: "USB sticks:" }
                    Button { text: "Refresh"; onClicked: backend.license.refreshMounts() }
                }
                Repeater {
                    model: backend.license.mounts
                    delegate: RowLayout {
                        Label { text: model.path + "  (" + model.licenses + " license file(s))" }
                        Button { text: "Import from here"; enabled: model.licenses > 0; onClicked: backend.license.importFromMount(model.path) }
                        Button { text: "Save request here"; onClicked: backend.license.saveRequest(model.path) }
                    }
                }
            }
        }
    }
}
