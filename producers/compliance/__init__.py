"""The compliance domain: 10DLC campaign states, the data of the outbound-messaging gate."""
