import TallyStore
