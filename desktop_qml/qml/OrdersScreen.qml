// Orders: the ticket, open orders with cancel, fills (StreamFills), every refusal with the daemon's
// reason code, the kill switch (confirmation dialog) and, for admins, the trading state.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    objectName: "ordersScreen"
    spacing: 10

    Label { text: "Orders"; font.pixelSize: 22; font.bold: true }

    RowLayout {
        spacing: 8
        ComboBox { id: symbol; objectName: "ticketSymbol"; model: ["ETH/BTC", "LTC/BTC", "XRP/ETH", "BTC/USDT"]; editable: true }
        ComboBox { id: side; objectName: "ticketSide"; model: ["buy", "sell"] }
        TextField {
            id: qty
            objectName: "ticketQty"
            text: "1"
            Layout.preferredWidth: 90
            validator: DoubleValidator { bottom: 0 }
        }
        ComboBox { id: orderType; objectName: "ticketType"; model: ["market", "limit"] }
        TextField { id: limitPrice; objectName: "ticketLimit"; placeholderText: "limit price"; enabled: orderType.currentText === "limit"; Layout.preferredWidth: 110 }
        Button {
            objectName: "submitButton"
            text: backend.orders.stage === "live" ? "Submit LIVE" : "Submit"
            enabled: backend.connection.isOperator
            onClicked: backend.orders.submit(symbol.editText, side.currentText, Number(qty.text), orderType.currentText, Number(limitPrice.text || 0))
        }
        Item { Layout.fillWidth: true }
        Button {
            objectName: "killSwitchButton"
            text: "KILL SWITCH"
            enabled: backend.connection.isAdmin
            palette.button: "#b00020"
            palette.buttonText: "white"
            onClicked: backend.orders.requestKillSwitch()
        }
    }

    Label {
        objectName: "ordersResult"
        text: backend.orders.lastResult
        color: backend.orders.lastOk ? palette.text : "#b00020"
        font.bold: !backend.orders.lastOk
        wrapMode: Text.Wrap
        Layout.fillWidth: true
    }

    RowLayout {
        visible: backend.connection.isAdmin
        Label { text: "Trading state (admin):" }
        Repeater {
            model: ["ACTIVE", "REDUCING", "HALTED"]
            delegate: Button {
                objectName: "state_" + modelData
                text: modelData
                highlighted: backend.dashboard.riskState === modelData
                onClicked: backend.orders.setTradingState(modelData, "set from the desktop client")
            }
        }
    }

    RowLayout {
        Layout.fillWidth: true
        Layout.fillHeight: true
        spacing: 12
        GroupBox {
            title: "Open orders (" + backend.orders.openOrders.count + ")"
            Layout.fillWidth: true
            Layout.fillHeight: true
            ListView {
                objectName: "openOrdersView"
                anchors.fill: parent
                clip: true
                model: backend.orders.openOrders
                delegate: RowLayout {
                    width: ListView.view.width
                    Label { text: model.cid + "  " + model.side + " " + model.qty + " " + model.symbol + "  " + model.status + " " + model.filled + " filled"; Layout.fillWidth: true; elide: Text.ElideRight }
                    Button { text: "Cancel"; onClicked: backend.orders.cancel(model.cid) }
                }
            }
        }
        GroupBox {
            title: "Fills (" + backend.orders.fillsSeen + ")"
            Layout.fillWidth: true
            Layout.fillHeight: true
            ListView {
                objectName: "fillsView"
                anchors.fill: parent
                clip: true
                model: backend.orders.fillsModel
                delegate: Label {
                    text: model.cid + "  " + model.side + " " + model.qty + " " + model.symbol + " @ " + model.price + "  " + model.venue
                }
            }
        }
    }

    Dialog {
        objectName: "killSwitchDialog"
        title: "Fire the kill switch?"
        modal: true
        anchors.centerIn: parent
        visible: backend.orders.killPending
        standardButtons: Dialog.Ok | Dialog.Cancel
        ColumnLayout {
            Label { text: "Every open order is cancelled and trading goes HALTED until an admin sets it back." }
            TextField { id: killReason; placeholderText: "reason (optional)"; Layout.fillWidth: true }
        }
        onAccepted: backend.orders.confirmKillSwitch(killReason.text)
        onRejected: backend.orders.abortKillSwitch()
    }
}
